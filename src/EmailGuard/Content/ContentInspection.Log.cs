using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class ContentInspection
{
    /// <summary>Stands in for a missing tenant or user, so log lines read as sentences.</summary>
    internal const string None = "none";

    [LoggerMessage(EventId = 2202, EventName = "ContentInspectionTimedOut", Level = LogLevel.Warning,
        Message = "The content inspector did not answer within {Timeout:c}; failure mode {FailureMode} decides; tenant {TenantId}, user {UserId}.")]
    private static partial void LogTimedOut(ILogger logger, TimeSpan timeout, ContentInspectionFailureMode failureMode, string tenantId, string userId);

    [LoggerMessage(EventId = 2203, EventName = "ContentInspectionFailed", Level = LogLevel.Warning,
        Message = "The content inspector threw; failure mode {FailureMode} decides; tenant {TenantId}, user {UserId}.")]
    private static partial void LogFailed(ILogger logger, Exception exception, ContentInspectionFailureMode failureMode, string tenantId, string userId);

    [LoggerMessage(EventId = 2207, EventName = "ContentInspectionInvalidVerdict", Level = LogLevel.Warning,
        Message = "The content inspector answered an invalid verdict ({Kind}, or a flag without a reason); failure mode {FailureMode} decides.")]
    private static partial void LogInvalidVerdict(ILogger logger, EmailContentVerdictKind kind, ContentInspectionFailureMode failureMode);
}
