using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns, once per rule, when a path rule is written with the app's path base. Rules match <c>Request.Path</c>, the
/// path below the base in which routes are written (<c>UsePathBase("/app")</c>, or a proxy's <c>X-Forwarded-Prefix</c>),
/// so <c>POST:/app/api/signup</c> matches no request the app serves under <c>/app</c>, and the rule limits nothing.
/// Matching it against the whole path instead would not hold either: <c>UsePathBase</c> serves <c>/api/signup</c>
/// without the base too, and a client would drop the base to dodge the rule. So the rule stays as written, and the
/// operator is told what to write.
/// </summary>
internal sealed partial class PathBaseRuleCheck(ILogger logger)
{
    private readonly ConcurrentDictionary<string, bool> _warned = new(StringComparer.OrdinalIgnoreCase);
    private Checked? _checked;

    /// <summary>
    /// Checks <paramref name="rules"/> against <paramref name="pathBase"/> unless they were checked against it last:
    /// an app has one base or a few, so a request usually costs one comparison.
    /// </summary>
    public void Check(PathRuleSet rules, PathString pathBase)
    {
        string? value = pathBase.Value;
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        Checked? last = Volatile.Read(ref _checked);
        if (last is not null && ReferenceEquals(last.Rules, rules) && string.Equals(last.PathBase, value, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        foreach ((string rule, string withoutBase) in rules.RulesWrittenWithBase(value))
        {
            if (_warned.TryAdd(rule, true))
            {
                LogRuleWrittenWithPathBase(logger, rule, value, withoutBase);
            }
        }

        Volatile.Write(ref _checked, new Checked(rules, value));
    }

    [LoggerMessage(EventId = 3014, EventName = "PathRuleWrittenWithPathBase", Level = LogLevel.Warning,
        Message = "The EmailGuard path rule '{Rule}' begins with the app's path base '{PathBase}'. Path rules match the path below the base, as routes are written, so this rule matches none of the requests the app serves under the base and limits nothing. Write it as '{WithoutBase}': requests with and without the base then count under it. Logged once per rule.")]
    private static partial void LogRuleWrittenWithPathBase(ILogger logger, string rule, string pathBase, string withoutBase);

    private sealed record Checked(PathRuleSet Rules, string PathBase);
}
