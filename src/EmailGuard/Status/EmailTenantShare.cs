namespace EmailGuard;

/// <summary>One active tenant's part of a fair-shared provider budget (<see cref="EmailProviderBudgetRule"/>).</summary>
public sealed class EmailTenantShare
{
    internal EmailTenantShare(string tenantId, double weight, bool hasDefaultWeight, long share, long used)
    {
        TenantId = tenantId;
        Weight = weight;
        HasDefaultWeight = hasDefaultWeight;
        Share = share;
        Used = used;
    }

    /// <summary>Gets the tenant.</summary>
    public string TenantId { get; }

    /// <summary>
    /// Gets the tenant's weight: <see cref="TenantLimits.FairShareWeight"/> from the tenant limit provider, capped at
    /// <see cref="FairShareOptions.MaxWeight"/>, or <see cref="FairShareOptions.DefaultWeight"/>.
    /// </summary>
    public double Weight { get; }

    /// <summary>Gets whether the tenant has the default weight (and shares the default-weight tenants' bounded pool).</summary>
    public bool HasDefaultWeight { get; }

    /// <summary>
    /// Gets the most the tenant may take of the contended part of the window, <c>max(1, floor(C × w / W))</c>, as the
    /// guard computes it now; it applies while the rule <see cref="EmailProviderBudgetRule.IsContended"/>.
    /// </summary>
    public long Share { get; }

    /// <summary>Gets what the tenant has taken of its share in this window (only sends while the window was contended count).</summary>
    public long Used { get; }
}
