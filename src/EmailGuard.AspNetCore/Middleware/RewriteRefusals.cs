using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The requests <see cref="RewriteCheckedRequestFeature"/> refused, logged once per path rule: the rewritten path often
/// carries what the client sent (<c>^legacy/(.*)$</c> onto <c>api/$1</c>), so a log, or a set, per path would grow
/// with whatever paths a client makes up.
/// </summary>
internal sealed partial class RewriteRefusals(ILogger logger)
{
    private readonly ConcurrentDictionary<string, bool> _logged = new(StringComparer.Ordinal);

    /// <summary>Logs the first refusal under <paramref name="rule"/>, and returns the exception that refuses the request.</summary>
    public UncountedRewriteException Refuse(string rule, string method, string path)
    {
        string shownMethod = LogValue.Of(method);
        string shownPath = LogValue.Of(path);
        if (_logged.TryAdd(rule, true))
        {
            LogRefused(logger, shownMethod, shownPath, rule);
        }

        return new UncountedRewriteException(
            $"A middleware after the EmailGuard middleware changed the request to '{shownMethod} {shownPath}', which the EmailGuard path rule '{rule}' covers and the middleware did not count; the request is refused.");
    }

    [LoggerMessage(EventId = 3166, EventName = "RewrittenOntoUncountedPathRule", Level = LogLevel.Error,
        Message = "A middleware after the EmailGuard middleware changed a request's path or method (UseRewriter(), UsePathBase() or UseHttpMethodOverride() placed after UseEmailGuard(), or one that rewrites the request itself) to '{Method} {Path}', which the EmailGuard path rule '{Rule}' covers and the middleware did not count: such requests are refused with 500, and whatever serves that path (an app.Map or MapWhen branch, app.Run, a proxy, an endpoint) does not run. " +
            "Call app.UseEmailGuard() after the middleware that rewrites the request. Logged once per rule.")]
    private static partial void LogRefused(ILogger logger, string method, string path, string rule);
}
