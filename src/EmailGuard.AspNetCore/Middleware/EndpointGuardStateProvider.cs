using Microsoft.Extensions.Configuration;
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
    private volatile EndpointGuardState _state;

    public EndpointGuardStateProvider(
        EmailGuardEndpointOptions options, IOptionsFactory<EmailGuardEndpointOptions> optionsFactory, IConfiguration? configuration, ILogger logger)
    {
        _optionsFactory = optionsFactory;
        _logger = logger;
        _state = EndpointGuardState.Create(options);
        if (configuration is not null)
        {
            // Lives as long as the middleware, which lives as long as the app.
            ChangeToken.OnChange(() => configuration.GetSection(EmailGuardEndpointOptions.ConfigurationSectionName).GetReloadToken(), Reload);
        }
    }

    /// <summary>Gets the rules in force; read once per request so a request never sees half old and half new rules.</summary>
    public EndpointGuardState Current => _state;

    private void Reload()
    {
        try
        {
            EndpointGuardState state = EndpointGuardState.Create(_optionsFactory.Create(Options.DefaultName));
            _state = state;
            Log.OptionsReloaded(_logger, state.Policies.Count, state.PathRules.Count);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException or FormatException)
        {
            Log.OptionsReloadRejected(_logger, ex);
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
    }
}
