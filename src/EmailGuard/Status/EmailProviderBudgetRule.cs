namespace EmailGuard;

/// <summary>
/// One global (provider) rule of <see cref="EmailProviderBudget"/>: its use in the current window, and its fair share
/// when the policy applies to it (fixed and sliding windows; a token bucket is a rate, not a budget, and is not shared).
/// </summary>
public sealed class EmailProviderBudgetRule
{
    internal EmailProviderBudgetRule(
        RateLimitRule rule, RateLimitEntry usage, bool isShared, long contentionThreshold, bool isContended, double activeWeight, long activeTenantCount, IReadOnlyList<EmailTenantShare> tenants)
    {
        Rule = rule;
        Limit = usage.Limit;
        Used = usage.Count;
        Remaining = usage.Remaining;
        ResetAt = usage.ResetAt;
        IsShared = isShared;
        ContentionThreshold = contentionThreshold;
        IsContended = isContended;
        ActiveWeight = activeWeight;
        ActiveTenantCount = activeTenantCount;
        Tenants = tenants;
    }

    /// <summary>Gets the rule.</summary>
    public RateLimitRule Rule { get; }

    /// <summary>Gets the rule's limit.</summary>
    public long Limit { get; }

    /// <summary>Gets the permits used in the current window, by every instance.</summary>
    public long Used { get; }

    /// <summary>Gets the permits left in the current window, never negative.</summary>
    public long Remaining { get; }

    /// <summary>Gets when the permits counted now will all have left the window (for a fixed window, its end).</summary>
    public DateTimeOffset ResetAt { get; }

    /// <summary>Gets whether the fair share applies to this rule; when false, the members below are zero and empty.</summary>
    public bool IsShared { get; }

    /// <summary>Gets the use from which the window is contended and shared (<see cref="FairShareOptions.ContentionThreshold"/> of the limit).</summary>
    public long ContentionThreshold { get; }

    /// <summary>Gets whether the window is contended now: its use reached <see cref="ContentionThreshold"/>, so each tenant takes at most its share.</summary>
    public bool IsContended { get; }

    /// <summary>Gets the summed weight of the tenants active in the window (default-weight tenants counted up to <see cref="FairShareOptions.MaxDefaultWeightTotal"/>).</summary>
    public double ActiveWeight { get; }

    /// <summary>Gets how many tenants are active in the window: those that sent, or tried to, since it began.</summary>
    public long ActiveTenantCount { get; }

    /// <summary>
    /// Gets the active tenants, in the order they became active, at most <see cref="MaxListedTenants"/> of them (fewer
    /// than <see cref="ActiveTenantCount"/> when more are active, or when a tenant id is too long to list).
    /// </summary>
    public IReadOnlyList<EmailTenantShare> Tenants { get; }

    /// <summary>The most tenants <see cref="Tenants"/> lists.</summary>
    public const int MaxListedTenants = 100;
}
