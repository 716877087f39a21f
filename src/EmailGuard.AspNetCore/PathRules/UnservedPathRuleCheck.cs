using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Warns, once per rule, when an exact path rule matches no endpoint of the app: <c>POST:/api/singup</c> for an app
/// whose endpoint is <c>/api/signup</c>, a method the endpoint does not take, a page handler the page does not have.
/// Such a rule limits nothing, and the operator believed the endpoint protected. The rules are looked at once the app
/// has started, again whenever a reload puts new rules in force, and again whenever the app's endpoints change (a
/// dynamic data source, a module that maps its routes late): a rule that warned and is served now says so, once, and a
/// rule whose endpoint went away warns then. A path served without an endpoint (an <c>app.Map</c> branch, a proxy, a
/// fallback route) cannot be told apart from a typo, so the warning says so; the rule stays as written, and requests
/// are never touched.
/// </summary>
internal sealed partial class UnservedPathRuleCheck(
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers) : StartedCheck(lifetime), IDisposable
{
    private readonly Lock _lock = new();

    /// <summary>The rules that warned and are still unserved, as far as the last look saw; guarded by <see cref="_lock"/>.</summary>
    private readonly HashSet<string> _warned = new(StringComparer.OrdinalIgnoreCase);

    private readonly ILogger _logger = loggers.CreateLogger<EmailGuardMiddleware>();
    private IDisposable? _watch;

    /// <summary>Whether the last look failed, and said so (event 3041); guarded by <see cref="_lock"/>.</summary>
    private bool _failing;

    public void Dispose() => Interlocked.Exchange(ref _watch, null)?.Dispose();

    protected override void Check()
    {
        if (services.GetService<EndpointGuardStateProvider>() is not { } state || services.GetService<EndpointDataSource>() is not { } endpoints)
        {
            return;
        }

        state.Reloaded += _ => Check(state, endpoints);

        // Watched before the first look, so that endpoints changed after the look fire the token. The callback runs on
        // the thread that changed them (routing rebuilds its matcher there too), and throws nothing.
        try
        {
            _watch = ChangeToken.OnChange(() => ChangeTokenOf(endpoints), () => Check(state, endpoints));
        }
#pragma warning disable CA1031 // A diagnostic: an app's data source that cannot be watched leaves the rules as they are.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogCheckFailed(_logger, LogValue.Of(ex));
        }

        Check(state, endpoints);
    }

    private IChangeToken? ChangeTokenOf(EndpointDataSource endpoints)
    {
        try
        {
            return endpoints.GetChangeToken();
        }
#pragma warning disable CA1031 // Called inside the previous token's callback: a throw would reach whoever changed the endpoints.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // No token ends the watch: the endpoints' changes can no longer be seen.
            LogCheckFailed(_logger, LogValue.Of(ex));
            return null;
        }
    }

    /// <summary>
    /// Looks at the rules in force against the app's endpoints as they are now. The looks after a reload and after a
    /// change of the endpoints may come at once, from two threads: each takes the rules in force inside the lock, so a
    /// look never undoes what a look at newer rules found.
    /// </summary>
    private void Check(EndpointGuardStateProvider state, EndpointDataSource endpoints)
    {
        lock (_lock)
        {
            try
            {
                Look(state.Current.PathRules, endpoints);
                _failing = false;
            }
#pragma warning disable CA1031 // A diagnostic: an app's data source or page that cannot be read leaves the rules as they are.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                // Said once until a look succeeds: a source that fails at every change would say it at every change.
                if (!_failing)
                {
                    _failing = true;
                    LogCheckFailed(_logger, LogValue.Of(ex));
                }
            }
        }
    }

    private void Look(PathRuleSet rules, EndpointDataSource endpoints)
    {
        List<UnservedPathRule> unserved = rules.IsEmpty ? [] : rules.FindUnserved(endpoints.Endpoints);
        var stillUnserved = new HashSet<string>(unserved.Select(static r => r.Rule), StringComparer.OrdinalIgnoreCase);
        foreach (string rule in _warned.Where(r => !stillUnserved.Contains(r)).ToArray())
        {
            // A rule a reload took away is forgotten without a word: it is in force no more, served or not.
            _warned.Remove(rule);
            if (rules.SettingOfExactRule(rule) is { } setting)
            {
                LogNowServed(_logger, rule, setting);
            }
        }

        foreach (UnservedPathRule rule in unserved)
        {
            if (_warned.Add(rule.Rule))
            {
                LogUnserved(_logger, rule.Rule, rule.Setting, rule.Reason, rule.Suggestion is null ? string.Empty : $" Did you mean '{rule.Suggestion}'?");
            }
        }
    }

    [LoggerMessage(EventId = 3038, EventName = "PathRuleMatchesNoEndpoint", Level = LogLevel.Warning,
        Message = "The EmailGuard path rule '{Rule}' ({Setting}) limits nothing: {Reason}.{Suggestion} A path the app serves without an endpoint (an app.Map branch, a proxy, a fallback route) cannot be told apart from a typo: if the rule names one, ignore this. Logged once per rule, and again only if the rule matched an endpoint in between (event 3040).")]
    private static partial void LogUnserved(ILogger logger, string rule, string setting, string reason, string suggestion);

    [LoggerMessage(EventId = 3040, EventName = "PathRuleNowMatchesAnEndpoint", Level = LogLevel.Information,
        Message = "The EmailGuard path rule '{Rule}' ({Setting}), which warning 3038 said limited nothing, now matches an endpoint of the app (mapped after the warning) and limits its requests.")]
    private static partial void LogNowServed(ILogger logger, string rule, string setting);

    [LoggerMessage(EventId = 3041, EventName = "PathRuleCheckFailed", Level = LogLevel.Warning,
        Message = "The EmailGuard path rules could not be checked against the app's endpoints, so a rule that matches none (warning 3038) may go unreported; the rules apply as written. Logged once until a check succeeds.")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
