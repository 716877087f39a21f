using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>The fair-share policy's logs (event ids 2340 to 2349, and 2350 to 2354 for the provider budget's roster).</summary>
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

    [LoggerMessage(EventId = 2350, EventName = "FairShareRosterWriteFailed", Level = LogLevel.Warning,
        Message = "A newly active tenant of provider budget {Window} could not be listed in the key-value store; it is counted in the budget's view but not listed.")]
    private static partial void LogRosterWriteFailed(ILogger logger, Exception exception, string window);

    [LoggerMessage(EventId = 2351, EventName = "FairShareRosterIdTooLong", Level = LogLevel.Information,
        Message = "A tenant id of {Length} characters is too long to list in the view of provider budget {Window}; the tenant is counted but not listed.")]
    private static partial void LogRosterIdTooLong(ILogger logger, int length, string window);
}
