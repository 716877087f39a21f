namespace EmailGuard.Dashboard;

/// <summary>The kinds of alert EmailGuard raises itself; an application or another package may raise its own kinds.</summary>
public static class EmailGuardAlertKinds
{
    /// <summary>Many messages were denied by one dimension's limits within <see cref="EmailGuardAlertOptions.SpikeWindow"/>.</summary>
    public const string LimitExceededSpike = "limit_exceeded_spike";

    /// <summary>A global rule (the provider's cap) crossed <see cref="SendGuardOptions.NearLimitThreshold"/> in its window.</summary>
    public const string NearGlobalLimit = "near_global_limit";

    /// <summary>A user or tenant was flagged with reduced limits.</summary>
    public const string Flagged = "flagged";

    /// <summary>A user or tenant was suspended.</summary>
    public const string Suspended = "suspended";

    /// <summary>The store stopped answering.</summary>
    public const string StoreOutage = "store_outage";

    /// <summary>The store answers again after an outage.</summary>
    public const string StoreRecovered = "store_recovered";

    /// <summary>A breaker tripped (a bounce or complaint ratio, or the store's circuit breaker).</summary>
    public const string BreakerTripped = "breaker_tripped";

    /// <summary>The summary of alerts of one condition that were suppressed during a period.</summary>
    public const string Suppressed = "suppressed";
}
