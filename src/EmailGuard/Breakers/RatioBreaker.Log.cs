using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>The ratio breakers' log messages and the names their metrics tag trips with.</summary>
internal sealed partial class RatioBreaker
{
    /// <summary>The dimension tag of a tenant pool's trips and recoveries in the metrics.</summary>
    private const string PoolDimensionName = "tenant_pool";

    private static string DimensionName(EmailGuardDimension dimension) => dimension switch
    {
        EmailGuardDimension.Tenant => "tenant",
        EmailGuardDimension.User => "user",
        EmailGuardDimension.Category => "category",
        _ => "client_ip",
    };

    private static string ActionName(EmailRatioBreakerAction action) => action switch
    {
        EmailRatioBreakerAction.Reduced => "reduced",
        EmailRatioBreakerAction.Suspended => "suspended",
        _ => "network_banned",
    };

    [LoggerMessage(EventId = 2101, EventName = "RatioBreakerTripped", Level = LogLevel.Warning,
        Message = "A ratio breaker tripped for a {Dimension} ({Reason}): {Action}, at a bounce rate of {BounceRate:P2} and a complaint rate of {ComplaintRate:P3} over {Sends} sends, until {ExpiresAt:O}.")]
    private static partial void LogTripped(
        ILogger logger, EmailGuardDimension dimension, string reason, EmailRatioBreakerAction action, double bounceRate, double complaintRate, long sends, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 3083, EventName = "TenantPoolRatioBreakerTripped", Level = LogLevel.Warning,
        Message = "A ratio breaker tripped for the tenant pool {Pool} ({Reason}): {Action} for every tenant in it, at a bounce rate of {BounceRate:P2} and a complaint rate of {ComplaintRate:P3} over {Sends} sends of its tenants, until {ExpiresAt:O}.")]
    private static partial void LogPoolTripped(
        ILogger logger, string pool, string reason, EmailRatioBreakerAction action, double bounceRate, double complaintRate, long sends, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 2102, EventName = "RatioHigh", Level = LogLevel.Warning,
        Message = "The {Dimension} ratios are over a breaker's line ({Reason}): a bounce rate of {BounceRate:P2} and a complaint rate of {ComplaintRate:P3} over {Sends} sends.")]
    private static partial void LogRatioHigh(ILogger logger, EmailGuardDimension dimension, string reason, double bounceRate, double complaintRate, long sends);

    [LoggerMessage(EventId = 2103, EventName = "RatioBreakerEvaluationFailed", Level = LogLevel.Warning,
        Message = "The ratio breakers could not be evaluated; the next bounce or complaint tries again.")]
    private static partial void LogEvaluationFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2104, EventName = "RatioBreakerCallbackFailed", Level = LogLevel.Warning,
        Message = "An OnTripped callback of the ratio breakers threw; the trip stands.")]
    private static partial void LogCallbackFailed(ILogger logger, Exception exception);
}
