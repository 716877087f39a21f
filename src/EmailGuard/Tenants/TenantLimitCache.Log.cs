using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>What the tenant limit cache logs.</summary>
internal sealed partial class TenantLimitCache
{
    [LoggerMessage(EventId = 2344, EventName = "FairShareWeightInvalid", Level = LogLevel.Warning,
        Message = "The tenant limit provider gave tenant {TenantId} the fair-share weight {Weight}, which is not a positive number; the default weight applies.")]
    private static partial void LogInvalidWeight(ILogger logger, string tenantId, double weight);

    [LoggerMessage(EventId = 2930, EventName = "TenantLimitRulesMissing", Level = LogLevel.Warning,
        Message = "The tenant limit provider answered for tenant {TenantId} with no rules (null, not an empty list); its last answer (or the default tenant limits) applies. Return null for the defaults, or an empty list for no limit.")]
    private static partial void LogRulesMissing(ILogger logger, string tenantId);

    [LoggerMessage(EventId = 420, EventName = "TenantLimitProviderFailure", Level = LogLevel.Warning, Message = "The tenant limit provider failed for tenant {TenantId}; its last answer (or the default tenant limits) applies until the cache entry expires.")]
    private static partial void LogProviderFailure(ILogger logger, string tenantId, Exception exception);

    [LoggerMessage(EventId = 3012, EventName = "TenantLimitLookupSlotGivenUp", Level = LogLevel.Warning,
        Message = "The tenant limit provider has not answered for tenant {TenantId} within {Lifetime}; the lookup goes on, but no longer counts against EmailGuard:SendGuard:TenantLimitLookupConcurrency ({Concurrency}), so that other tenants' lookups are not held behind it.")]
    private static partial void LogLookupSlotGivenUp(ILogger logger, string tenantId, TimeSpan lifetime, int concurrency);

    [LoggerMessage(EventId = 3013, EventName = "TenantLimitInvalidatedFallback", Level = LogLevel.Warning,
        Message = "The tenant limit provider {Outcome} for tenant {TenantId}, whose limits were invalidated; the stricter of its last answer and the default tenant limits applies until it answers.")]
    private static partial void LogInvalidatedFallback(ILogger logger, string tenantId, string outcome, Exception? exception);

    [LoggerMessage(EventId = 1005, EventName = "TenantLimitProviderSlow", Level = LogLevel.Warning,
        Message = "The tenant limit provider did not answer for tenant {TenantId} within {Timeout}; this check uses the default tenant limits, and the lookup goes on in the background.")]
    private static partial void LogProviderSlow(ILogger logger, string tenantId, TimeSpan timeout);

    [LoggerMessage(EventId = 3037, EventName = "TenantLimitProviderSlowLastAnswerTooOld", Level = LogLevel.Warning,
        Message = "The tenant limit provider did not answer for tenant {TenantId} within {Timeout}, and its last answer is too old to apply alone; this check uses the stricter of that answer and the default tenant limits, and the lookup goes on in the background.")]
    private static partial void LogProviderSlowLastAnswerTooOld(ILogger logger, string tenantId, TimeSpan timeout);
}
