using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Which tenant pools the ratio breakers judge: only those the send guard holds its tenants by (a pool with rules in
/// <see cref="SendGuardOptions.TenantPools"/>). A mail's pool comes back in its attribution, echoed in the provider's
/// tags when no message-id mapping names it; a pool named there that has no rules holds no one, so a trip of it would
/// stop nobody while it flagged, paged and logged a pool that does not exist: a customer who could write the tags
/// (an app that passes its customers' tags on unscrubbed) minted such pools by the name; and a pool removed from the
/// configuration tripped on the late bounces of its old mail. (A real pool's name padded with spaces or in another case
/// is that pool: the feedback counts a pool by its name trimmed, in lower case.) A pool in
/// <see cref="EmailRatioBreakerOptions.ExcludedTenantPools"/> is not judged either, and not logged: it is configured.
/// </summary>
internal sealed partial class RatioBreaker
{
    // Pools this instance logged as named by feedback but not configured (3092); bounded like the warned parties.
    private readonly ConcurrentDictionary<string, byte> _unknownPools = new(StringComparer.Ordinal);

    /// <summary>Whether the pool (its name in lower case, as the feedback counts it) is one the breakers judge.</summary>
    private bool Judges(string? pool)
    {
        if (pool is null || (_excludedPools is not null && _excludedPools.Contains(pool)))
        {
            // An excluded pool is configured: its ratios are counted, but the operator chose that no breaker judges it.
            return false;
        }

        if (_pools is null || _pools.Contains(pool))
        {
            return true;
        }

        if (_unknownPools.Count < MaxWarnedParties && _unknownPools.TryAdd(pool, 0) && _logger.IsEnabled(LogLevel.Warning))
        {
            string shownPool = LogValue.Of(pool);
            LogUnknownPool(_logger, shownPool);
        }

        return false;
    }

    [LoggerMessage(EventId = 3092, EventName = "TenantPoolRatioNotJudged", Level = LogLevel.Warning,
        Message = "Feedback was attributed to the tenant pool {Pool}, which has no rules in EmailGuard:SendGuard:TenantPools: it is counted, but no breaker judges it, since it holds no tenant. A pool removed from the configuration, or tags the provider echoed that the app did not write.")]
    private static partial void LogUnknownPool(ILogger logger, string pool);
}
