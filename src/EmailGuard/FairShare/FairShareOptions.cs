namespace EmailGuard;

/// <summary>
/// A fair share of the account's (provider's) budget per tenant, bound from <c>EmailGuard:SendGuard:FairShare</c>:
/// once a global window rule is contended, each active tenant may use at most its weighted share of what is left of
/// the window, so one busy tenant cannot take the whole budget while others wait. See <c>docs/pacing.md</c>.
/// </summary>
/// <remarks>
/// <para>
/// The policy applies to every fixed and sliding window rule of <see cref="SendGuardOptions.Global"/> (a token bucket
/// is a rate, not a budget, and is left alone), and only to messages with a <see cref="OutboundEmail.TenantId"/>.
/// A rule of limit <c>L</c> is <em>contended</em> once its count reaches <see cref="ContentionThreshold"/> × <c>L</c>.
/// From then on, until the window ends, a tenant of weight <c>w</c> may take at most
/// <c>floor((L − threshold) × w / W)</c> (at least 1) of the contended part, where <c>W</c> is the total weight of
/// the tenants active in the window. A share is one more counter in the check's atomic acquire, so the global limit
/// itself is never exceeded, on any store.
/// </para>
/// <para>
/// Weights come from <see cref="TenantLimits.FairShareWeight"/>. Tenants without one (unknown, new, or trial tenants)
/// weigh <see cref="DefaultWeight"/> each, but together never more than <see cref="MaxDefaultWeightTotal"/>, and
/// together never take more than that total's share: creating many tenants does not shrink anyone else's share.
/// </para>
/// </remarks>
public sealed class FairShareOptions
{
    /// <summary>Gets or sets whether the fair share applies.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the fraction of a global rule's limit (0 to less than 1) that is first come, first served in each
    /// window; the rest is shared once the count reaches it. 0 shares the whole window.
    /// </summary>
    /// <value>The default value is 0.5.</value>
    public double ContentionThreshold { get; set; } = 0.5;

    /// <summary>
    /// Gets or sets the weight of a tenant for which the <see cref="ITenantLimitProvider"/> gives none (or that it does
    /// not know).
    /// </summary>
    /// <value>The default value is 1.</value>
    public double DefaultWeight { get; set; } = 1;

    /// <summary>
    /// Gets or sets the total weight that all tenants of <see cref="DefaultWeight"/> count for together, however many
    /// are active: beyond it they split it. Bounds what a flood of new tenants can take from the weighted ones.
    /// </summary>
    /// <value>The default value is 10.</value>
    public double MaxDefaultWeightTotal { get; set; } = 10;

    /// <summary>Gets or sets the largest weight a tenant may have; larger weights from the provider are lowered to it.</summary>
    /// <value>The default value is 1,000.</value>
    public double MaxWeight { get; set; } = 1_000;

    /// <summary>
    /// Gets or sets how often an instance re-reads the global counts and the active weight from the store. Between
    /// reads, shares are computed from the last view: a share can be too large by what the tenants that became active
    /// since would have taken from it, and contention can begin that much late. Never the global limit.
    /// </summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);
}
