namespace EmailGuard;

/// <summary>
/// Supplies per-tenant limits that the application keeps in its own database (for example a column of custom limits
/// per company). The guard caches each answer for <see cref="SendGuardOptions.TenantLimitCacheDuration"/>, so a check
/// costs no query, and keeps using an expired answer while the next lookup runs, for one more cache duration at most.
/// A check with no answer at hand, or only one older than that, waits at most <see cref="StoreResilienceOptions.Timeout"/>
/// for the lookup and then uses the default tenant rules (the lookup goes on and serves later checks); an exception
/// keeps the last answer, or the defaults, and is logged. After changing a tenant's limits, call
/// <see cref="IEmailGuardTenantLimits.InvalidateAsync"/> to apply them on every instance now: until the provider
/// answers after that, the fallback is the stricter of the last answer and the defaults. At most
/// <see cref="SendGuardOptions.TenantLimitLookupConcurrency"/> lookups run at once per instance.
/// </summary>
public interface ITenantLimitProvider
{
    /// <summary>Returns the tenant's limits, or <see langword="null"/> to use the defaults of <see cref="SendGuardOptions.Tenant"/>.</summary>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The overrides, or <see langword="null"/>.</returns>
    ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken);
}
