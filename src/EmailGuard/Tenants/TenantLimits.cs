namespace EmailGuard;

/// <summary>A tenant's own limits, replacing the default tenant rules.</summary>
public sealed class TenantLimits
{
    /// <summary>
    /// Gets the rules of the tenant dimension. Give rules of the same window as the defaults to keep the counters
    /// (a counter is identified by its window, not its limit); an empty list leaves the tenant unlimited. A
    /// <see langword="null"/> list (a mapper that read a NULL column) is not "unlimited": it is ignored and logged, and
    /// the last answer, or the default tenant rules, apply.
    /// </summary>
    public IReadOnlyList<RateLimitRule> Rules { get; init; } = [];

    /// <summary>
    /// Gets the tenant's weight in the fair share of the global budget (<see cref="SendGuardOptions.FairShare"/>): a
    /// tenant of weight 2 gets twice the share of a tenant of weight 1. At most <see cref="FairShareOptions.MaxWeight"/>
    /// counts; a value that is not a positive number is ignored (and logged).
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the tenant gets <see cref="FairShareOptions.DefaultWeight"/>, and
    /// shares the bounded total of all default-weight tenants (<see cref="FairShareOptions.MaxDefaultWeightTotal"/>).
    /// </value>
    public double? FairShareWeight { get; init; }

    /// <summary>
    /// Gets the tenant pool whose rules (<see cref="SendGuardOptions.TenantPools"/>) this tenant's mail also counts
    /// against, e.g. <c>trial</c>: every tenant of the pool shares those caps, on top of its own rules. The name is
    /// case-insensitive. A pool with no entry in <see cref="SendGuardOptions.TenantPools"/> caps nothing (logged once per
    /// pool).
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: the tenant is in no pool. <see cref="SendGuardOptions.DefaultTenantPool"/>
    /// applies only to tenants the provider returns no <see cref="TenantLimits"/> for.
    /// </value>
    public string? Pool { get; init; }
}
