using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class SendGuardReload
{
    [LoggerMessage(EventId = 3126, EventName = "SendGuardReloadRefused", Level = LogLevel.Error,
        Message = "EmailGuard:SendGuard changed but is invalid; the send guard keeps the caps in force. {Failures}")]
    private static partial void LogReloadRefused(ILogger logger, string failures);

    [LoggerMessage(EventId = 3127, EventName = "SendGuardStartOnlySettingChanged", Level = LogLevel.Warning,
        Message = "A reload changed {Setting}, which the send guard reads only when it starts: it keeps the value it started with until the app restarts.")]
    private static partial void LogStartOnlySettingChanged(ILogger logger, string setting);

    [LoggerMessage(EventId = 3128, EventName = "SendGuardCapReloaded", Level = LogLevel.Information,
        Message = "A reload changed {Setting}: was {Before}, now {After}.")]
    private static partial void LogCapChanged(ILogger logger, string setting, string before, string after);

    [LoggerMessage(EventId = 3129, EventName = "SendGuardCapKept", Level = LogLevel.Warning,
        Message = "A reload changed {Setting}, which stays as it was until the app restarts: {Reason}.")]
    private static partial void LogCapKept(ILogger logger, string setting, string reason);
}
