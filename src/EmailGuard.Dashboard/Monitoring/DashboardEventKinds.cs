namespace EmailGuard.Dashboard;

/// <summary>The kinds of event the dashboard's event log shows from this instance.</summary>
internal static class DashboardEventKinds
{
    public const string Flagged = "flagged";
    public const string Suspended = "suspended";
    public const string StoreOutage = "store_outage";
    public const string StoreRecovered = "store_recovered";
    public const string BreakerTripped = "breaker_tripped";
    public const string BreakerRecovered = "breaker_recovered";
    public const string NetworkBanned = "network_banned";
    public const string SurgeBreakerTripped = "surge_breaker_tripped";
    public const string SurgeBreakerRecovered = "surge_breaker_recovered";
    public const string Suppressed = "suppressed";
}
