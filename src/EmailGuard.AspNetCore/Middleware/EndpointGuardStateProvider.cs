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

            CheckPoliciesKept(state);
            _state = state;
            Log.OptionsReloaded(_logger, state.Policies.Count, state.PathRules.Count);
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
    /// a policy an endpoint names, or, when the endpoints cannot be read, one that the rules in force have.
    /// </summary>
    private void CheckPoliciesKept(EndpointGuardState state)
    {
        IReadOnlyList<Endpoint>? endpoints;
        try
        {
            endpoints = _endpoints?.Invoke()?.Endpoints;
        }
#pragma warning disable CA1031 // The app's data source failing says nothing of the new options; the check below stands in for it.
        catch (Exception)
#pragma warning restore CA1031
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

        [LoggerMessage(EventId = 2908, EventName = "BounceBanNetworksTooWide", Level = LogLevel.Warning,
            Message = "{SendGuardSetting} is {SendGuardPrefix} but {EndpointSetting} is {EndpointPrefix}: the send guard attributes mail to wider {Family} networks than the endpoints count, so {Family} bounces count towards no bounce ban of policies {Policies}. Make the send guard's prefix at least as long as the endpoints'.")]
        public static partial void BounceBanNetworksTooWide(
            ILogger logger, string family, string sendGuardSetting, int sendGuardPrefix, string endpointSetting, int endpointPrefix, string policies);
    }
}
