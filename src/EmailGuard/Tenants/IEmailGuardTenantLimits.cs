namespace EmailGuard;

/// <summary>
/// Applies a change of a tenant's limits at once, on every instance: after the application changed what its
/// <see cref="ITenantLimitProvider"/> answers (a plan cut or upgrade), it calls <see cref="InvalidateAsync"/>, and every
/// instance drops the answer it cached for <see cref="SendGuardOptions.TenantLimitCacheDuration"/>.
/// </summary>
/// <remarks>
/// <para>
/// The change rides the guard's state store, as flags and list entries do: this instance applies it before the call
/// returns, every other instance within <see cref="SendGuardOptions.StateRefreshInterval"/>, the bound in which a
/// suspension propagates. On the in-memory state store there is no other instance to tell; a custom state store that
/// does not implement <see cref="IEmailGuardStateStore.RecordTenantLimitsChangeAsync"/> applies it on this instance
/// only, and says so in a warning (event 2998). A store that records the change but reports no changes
/// (<see cref="IEmailGuardStateStore.LoadChangesAsync"/>) makes the other instances look every tenant up again,
/// serving their cached answers while the lookups run.
/// </para>
/// <para>
/// The next check of the tenant on each instance then asks the provider and waits for its answer, at most
/// <see cref="StoreResilienceOptions.Timeout"/>, rather than use the old answer while the new one loads. Until the
/// provider answers, a check that outlasts the timeout, or a lookup that fails, gets the stricter of the tenant's last
/// answer and the default tenant rules (per window the lower limit, and every rule either has; warning 3013), so a
/// slow or failing provider never makes the tenant laxer than either; its fair-share weight is at most
/// <see cref="FairShareOptions.DefaultWeight"/> meanwhile. A tenant never looked up on the instance gets the defaults.
/// </para>
/// </remarks>
public interface IEmailGuardTenantLimits
{
    /// <summary>Drops the cached limits of a tenant on every instance, so that its next check asks the provider.</summary>
    /// <param name="tenantId">The tenant, exactly as <see cref="OutboundEmail.TenantId"/> names it (ordinal comparison).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the change is recorded in the state store and applied on this instance.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tenantId"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="tenantId"/> is empty or only whitespace, as <see cref="IEmailGuardFlags"/> and <see cref="IEmailGuardLists"/> refuse it.</exception>
    /// <exception cref="EmailGuardStoreUnavailableException">
    /// The state store did not answer in time or failed: the change applies on this instance only, and other instances
    /// apply the new limits when their cached answers expire.
    /// </exception>
    ValueTask InvalidateAsync(string tenantId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drops the cached limits of every tenant on every instance, so that each tenant's next check asks the provider:
    /// after a change of many tenants' limits at once (a price list).
    /// </summary>
    /// <remarks>
    /// Every active tenant's next check, on every instance, then starts a lookup: at most
    /// <see cref="SendGuardOptions.TenantLimitLookupConcurrency"/> of them ask the provider at once per instance, and a
    /// check whose lookup waits for its turn, or outlasts the timeout, gets the stricter of the tenant's last answer
    /// and the default tenant rules. After a change of a few tenants, call <see cref="InvalidateAsync"/> for each.
    /// </remarks>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the change is recorded in the state store and applied on this instance.</returns>
    /// <exception cref="EmailGuardStoreUnavailableException">
    /// The state store did not answer in time or failed: the change applies on this instance only.
    /// </exception>
    ValueTask InvalidateAllAsync(CancellationToken cancellationToken = default);
}
