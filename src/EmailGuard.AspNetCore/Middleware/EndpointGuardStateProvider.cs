using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Holds the compiled <see cref="EndpointGuardState"/> and swaps it as a whole when the <c>EmailGuard:Endpoints</c>
/// section reloads; an invalid change is logged and the previous rules stay in force.
/// </summary>
internal sealed partial class EndpointGuardStateProvider
{
    private readonly IOptionsFactory<EmailGuardEndpointOptions> _optionsFactory;
    private readonly ILogger _logger;
    private readonly SendGuardOptions? _sendGuard;
    private readonly Func<EndpointDataSource?>? _endpoints;
    private volatile EndpointGuardState _state;

    /// <param name="options">The options the app started with.</param>
    /// <param name="optionsFactory">Builds the options again on a reload.</param>
    /// <param name="configuration">The app's configuration, whose <c>EmailGuard:Endpoints</c> section is watched.</param>
    /// <param name="logger">Logs reloads.</param>
    /// <param name="sendGuard">The send guard's options, when the app registered it.</param>
    /// <param name="endpoints">The app's endpoints, whose policies a reload must keep.</param>
    public EndpointGuardStateProvider(
        EmailGuardEndpointOptions options,
        IOptionsFactory<EmailGuardEndpointOptions> optionsFactory,
        IConfiguration? configuration,
        ILogger logger,
        SendGuardOptions? sendGuard = null,
        Func<EndpointDataSource?>? endpoints = null)
    {
        _optionsFactory = optionsFactory;
        _logger = logger;
        _sendGuard = sendGuard;
        _endpoints = endpoints;
        _state = EndpointGuardState.Create(options);
        WarnIfBounceBansCountNothing(_state);
        if (configuration is not null)
        {
            // Lives as long as the middleware, which lives as long as the app.
            ChangeToken.OnChange(() => configuration.GetSection(EmailGuardEndpointOptions.ConfigurationSectionName).GetReloadToken(), Reload);
        }
    }

    /// <summary>The send guard's options when the app registered the send guard, whose attribution the bounce bans read.</summary>
    public static SendGuardOptions? SendGuardOf(IServiceProvider services)
        => services.GetService<IServiceProviderIsService>()?.IsService(typeof(IEmailSendGuard)) == true
            ? services.GetService<IOptions<SendGuardOptions>>()?.Value
            : null;

    /// <summary>Gets the rules in force; read once per request so a request never sees half old and half new rules.</summary>
    public EndpointGuardState Current => _state;

    /// <summary>Raised after a reload put new rules in force, with them; a handler must not throw.</summary>
    public event Action<EndpointGuardState>? Reloaded;

    private void Reload()
    {
        EndpointGuardState state;
        try
        {
            state = EndpointGuardState.Create(_optionsFactory.Create(Options.DefaultName));

            // Read once: the kept-policies check and the route value warning look at the same endpoints.
            bool read = TryReadEndpoints(out IReadOnlyList<Endpoint>? endpoints);
            CheckPoliciesKept(state, read, endpoints);
            EndpointGuardState before = _state;
            state.KeepUncountedOf(before);
            _state = state;
            Log.OptionsReloaded(_logger, state.Policies.Count, state.PathRules.Count);
            LogChanges(before.Options, state.Options);
            WarnUncountedRouteValues(endpoints);
            WarnIfBounceBansCountNothing(state);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException or FormatException)
        {
            Log.OptionsReloadRejected(_logger, LogValue.Of(ex));
            return;
        }

        Reloaded?.Invoke(state);
    }

    /// <summary>
    /// A policy from configuration can be removed or renamed by a reload; an endpoint that names it would then fail
    /// its every request. Throws, refusing the change like any other invalid one, when <paramref name="state"/> lacks
    /// a policy an endpoint names, or, when the endpoints could not be read (<paramref name="read"/> false), one that
    /// the rules in force have.
    /// </summary>
    private void CheckPoliciesKept(EndpointGuardState state, bool read, IReadOnlyList<Endpoint>? endpoints)
    {
        if (!read)
        {
            string? removed = _state.Policies.Keys.FirstOrDefault(name => !state.Policies.ContainsKey(name));
            if (removed is not null)
            {
                throw new InvalidOperationException(
                    $"The EmailGuard policy '{removed}' is gone from the changed options, and the app's endpoints could not be read to see whether one names it; restart the app to remove a policy.");
            }

            return;
        }

        if (endpoints is not null)
        {
            EndpointPolicyValidator.Validate(endpoints, state.Policies);
        }
    }

    /// <summary>The app's endpoints; false when its data source failed (null endpoints: no data source).</summary>
    private bool TryReadEndpoints(out IReadOnlyList<Endpoint>? endpoints)
    {
        try
        {
            endpoints = _endpoints?.Invoke()?.Endpoints;
            return true;
        }
#pragma warning disable CA1031 // The app's data source failing says nothing of the options; each caller says what stands in for it.
        catch (Exception)
#pragma warning restore CA1031
        {
            endpoints = null;
            return false;
        }
    }

    /// <summary>
    /// At start: the route value partitions the endpoints' routes never fill (3107). After each reload that is taken
    /// too (<see cref="Reload"/>), each said once for as long as it lasts (a configuration change fires a reload more
    /// than once). A warning only: endpoints that cannot be read are not checked.
    /// </summary>
    public void WarnUncountedRouteValues()
    {
        TryReadEndpoints(out IReadOnlyList<Endpoint>? endpoints);
        WarnUncountedRouteValues(endpoints);
    }

    private void WarnUncountedRouteValues(IReadOnlyList<Endpoint>? endpoints)
    {
        if (endpoints is not null)
        {
            _uncountedRouteValues = EndpointPolicyValidator.WarnUncountedRouteValues(endpoints, _state.Policies, _uncountedRouteValues, _logger);
        }
    }

    // The route value partitions warned of last (3107), so a reload that changes nothing of them says nothing again.
    private IReadOnlySet<string> _uncountedRouteValues = new HashSet<string>();

    /// <summary>
    /// Says what a reload changed in the settings an operator tunes during an attack, the policies from configuration
    /// and the path rules, each with its settings before and after (3106): a reload that raises a limit or puts a policy
    /// in shadow mode loosens a security control, and the count of policies alone would not show it.
    /// </summary>
    private void LogChanges(EmailGuardEndpointOptions before, EmailGuardEndpointOptions after)
    {
        foreach (string name in before.Policies.Keys.Union(after.Policies.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            string? was = before.Policies.TryGetValue(name, out EmailGuardPolicyOptions? old) ? Describe(old) : null;
            string? now = after.Policies.TryGetValue(name, out EmailGuardPolicyOptions? changed) ? Describe(changed) : null;
            if (!string.Equals(was, now, StringComparison.Ordinal))
            {
                string setting = $"{EmailGuardEndpointOptions.ConfigurationSectionName}:Policies:{name}", shownWas = LogValue.Of(was ?? "none"), shownNow = LogValue.Of(now ?? "none");
                Log.SettingChanged(_logger, setting, shownWas, shownNow);
            }
        }

        // By index, as configuration lists them: each rule's line stays short enough to be logged whole.
        for (int i = 0; i < Math.Max(before.PathRules.Count, after.PathRules.Count); i++)
        {
            string? was = i < before.PathRules.Count ? Describe(before.PathRules[i]) : null;
            string? now = i < after.PathRules.Count ? Describe(after.PathRules[i]) : null;
            if (!string.Equals(was, now, StringComparison.Ordinal))
            {
                string setting = string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRules:{i}"), shownWas = LogValue.Of(was ?? "none"), shownNow = LogValue.Of(now ?? "none");
                Log.SettingChanged(_logger, setting, shownWas, shownNow);
            }
        }
    }

    /// <summary>A configured policy in one line: its partitions with their rules, then what else decides admission.</summary>
    private static string Describe(EmailGuardPolicyOptions policy)
    {
        IEnumerable<string> partitions = policy.Partitions.Select(p => string.Create(CultureInfo.InvariantCulture,
            $"{p.PartitionBy}{(p.Name is null ? null : " " + p.Name)}{(p.IPv4PrefixLength is { } v4 ? $" IPv4 /{v4}" : null)}{(p.IPv6PrefixLength is { } v6 ? $" IPv6 /{v6}" : null)}{(p.Comparison is { } c ? $" {c}" : null)}: {string.Join(", ", p.Rules.Select(Describe))}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"{string.Join("; ", partitions)}; {policy.FailureMode}{(policy.ShadowMode ? ", shadow mode" : null)}, field missing {policy.WhenFieldMissing}, repeated {policy.WhenFieldRepeated}, value missing {policy.WhenValueMissing}");
    }

    private static string Describe(RateLimitRuleOptions rule) => string.Create(CultureInfo.InvariantCulture,
        $"{rule.Limit} per {rule.Window} {rule.Algorithm}{(rule.Segments != 0 ? $"/{rule.Segments}" : null)}{(rule.Burst != 0 ? $" burst {rule.Burst}" : null)}");

    private static string Describe(EmailGuardPathRule rule) => string.Create(CultureInfo.InvariantCulture,
        $"{rule.Endpoint} {rule.Limit} per {rule.Window} {rule.Algorithm}{(rule.Segments != 0 ? $"/{rule.Segments}" : null)} by {rule.PartitionBy}");

    /// <summary>
    /// A bounce ban counts the networks its policy counts, from the network the send guard put in the mail's
    /// attribution. When the send guard groups a family more coarsely (IPv4 by /24, the endpoints by /32), the
    /// attribution does not say which of the endpoints' networks sent, and every such bounce is skipped (event 2612, at
    /// debug level, per bounce): said once here, at start and at each reload, where an operator sees it.
    /// </summary>
    private void WarnIfBounceBansCountNothing(EndpointGuardState state)
    {
        if (_sendGuard is not { } guard)
        {
            return;
        }

        string[] policies = [.. state.Defenses.Where(d => d.Value.BounceBan is not null).Select(d => d.Key).Order(StringComparer.Ordinal)];
        if (policies.Length == 0)
        {
            return;
        }

        EmailGuardEndpointOptions endpoints = state.Options;
        if (guard.IPv4PrefixLength < endpoints.IPv4PrefixLength)
        {
            Log.BounceBanNetworksTooWide(_logger, "IPv4", $"{SendGuardOptions.ConfigurationSectionName}:IPv4PrefixLength", guard.IPv4PrefixLength,
                $"{EmailGuardEndpointOptions.ConfigurationSectionName}:IPv4PrefixLength", endpoints.IPv4PrefixLength, string.Join(", ", policies));
        }

        if (guard.IPv6PrefixLength < endpoints.IPv6PrefixLength)
        {
            Log.BounceBanNetworksTooWide(_logger, "IPv6", $"{SendGuardOptions.ConfigurationSectionName}:IPv6PrefixLength", guard.IPv6PrefixLength,
                $"{EmailGuardEndpointOptions.ConfigurationSectionName}:IPv6PrefixLength", endpoints.IPv6PrefixLength, string.Join(", ", policies));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 206, EventName = "OptionsReloaded", Level = LogLevel.Information,
            Message = "EmailGuard endpoint options reloaded: {PolicyCount} policies, {PathRuleCount} path rules.")]
        public static partial void OptionsReloaded(ILogger logger, int policyCount, int pathRuleCount);

        [LoggerMessage(EventId = 207, EventName = "OptionsReloadRejected", Level = LogLevel.Error,
            Message = "EmailGuard endpoint options changed but are invalid; the previous rules stay in force.")]
        public static partial void OptionsReloadRejected(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 3106, EventName = "EndpointSettingReloaded", Level = LogLevel.Information,
            Message = "A reload changed {Setting}: was {Before}, now {After}.")]
        public static partial void SettingChanged(ILogger logger, string setting, string before, string after);

        [LoggerMessage(EventId = 2908, EventName = "BounceBanNetworksTooWide", Level = LogLevel.Warning,
            Message = "{SendGuardSetting} is {SendGuardPrefix} but {EndpointSetting} is {EndpointPrefix}: the send guard attributes mail to wider {Family} networks than the endpoints count, so {Family} bounces count towards no bounce ban of policies {Policies}. Make the send guard's prefix at least as long as the endpoints'.")]
        public static partial void BounceBanNetworksTooWide(
            ILogger logger, string family, string sendGuardSetting, int sendGuardPrefix, string endpointSetting, int endpointPrefix, string policies);
    }
}
