using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>The fair-share policy's logs (event ids 2340 to 2359).</summary>
internal sealed partial class FairShareTracker
{
    [LoggerMessage(EventId = 2340, EventName = "FairShareContended", Level = LogLevel.Information,
        Message = "The provider budget {Window} is contended ({Count} of {Limit}): tenants now share the rest of the window by weight (active weight {ActiveWeight}, {PreviousWeight} in the window before).")]
    private static partial void LogContended(ILogger logger, string window, long count, long limit, double activeWeight, double previousWeight);

    [LoggerMessage(EventId = 2341, EventName = "FairShareRefreshFailed", Level = LogLevel.Warning,
        Message = "The fair-share view could not be read from the rate-limit store; shares follow the last view until the next attempt.")]
    private static partial void LogRefreshFailed(ILogger logger, Exception? exception);

    [LoggerMessage(EventId = 2342, EventName = "FairShareRegistrationFailed", Level = LogLevel.Warning,
        Message = "Tenant {TenantId} could not be registered as active for the fair share; it is retried after the refresh interval.")]
    private static partial void LogRegistrationFailed(ILogger logger, string tenantId);

    [LoggerMessage(EventId = 2343, EventName = "FairShareTenantActive", Level = LogLevel.Debug,
        Message = "Tenant {TenantId} is active in the window of provider budget {Window} with weight {Weight}, {WeightSource}.")]
    private static partial void LogTenantActive(ILogger logger, string tenantId, string window, double weight, string weightSource);
}
