using System.Collections.Concurrent;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns, once per rule, when an exact path rule matches no endpoint of the app: <c>POST:/api/singup</c> for an app
/// whose endpoint is <c>/api/signup</c>, a method the endpoint does not take, a page handler the page does not have.
/// Such a rule limits nothing, and the operator believed the endpoint protected. The rules are looked at once the app
/// has started, when every endpoint is mapped, and again whenever a reload puts new rules in force. A path served
/// without an endpoint (an <c>app.Map</c> branch, a proxy, a fallback route) cannot be told apart from a typo, so the
/// warning says so; the rule stays as written, and requests are never touched.
/// </summary>
internal sealed partial class UnservedPathRuleCheck(
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime)
{
    private readonly ConcurrentDictionary<string, bool> _warned = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger = loggers.CreateLogger<EmailGuardMiddleware>();

    protected override void Check()
    {
        if (services.GetService<EndpointGuardStateProvider>() is not { } state || services.GetService<EndpointDataSource>() is not { } endpoints)
        {
            return;
        }

        state.Reloaded += reloaded => Check(reloaded.PathRules, endpoints);
        Check(state.Current.PathRules, endpoints);
    }

    private void Check(PathRuleSet rules, EndpointDataSource endpoints)
    {
        if (rules.IsEmpty)
        {
            return;
        }

        List<UnservedPathRule> unserved;
        try
        {
            unserved = rules.FindUnserved(endpoints.Endpoints);
        }
#pragma warning disable CA1031 // A diagnostic: an app's data source or page that cannot be read leaves the rules as they are, and says nothing.
        catch (Exception)
#pragma warning restore CA1031
        {
            return;
        }

        foreach (UnservedPathRule rule in unserved)
        {
            if (_warned.TryAdd(rule.Rule, true))
            {
                LogUnserved(_logger, rule.Rule, rule.Setting, rule.Reason, rule.Suggestion is null ? string.Empty : $" Did you mean '{rule.Suggestion}'?");
            }
        }
    }

    [LoggerMessage(EventId = 3038, EventName = "PathRuleMatchesNoEndpoint", Level = LogLevel.Warning,
        Message = "The EmailGuard path rule '{Rule}' ({Setting}) limits nothing: {Reason}.{Suggestion} A path the app serves without an endpoint (an app.Map branch, a proxy, a fallback route) cannot be told apart from a typo: if the rule names one, ignore this. Logged once per rule.")]
    private static partial void LogUnserved(ILogger logger, string rule, string setting, string reason, string suggestion);
}
