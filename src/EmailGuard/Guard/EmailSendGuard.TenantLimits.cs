namespace EmailGuard;

/// <summary>
/// Tenant-limit invalidation: the cached limits dropped when the app changed them (<see cref="EmailGuardTenantLimits"/>)
/// or another instance did (the constructor subscribes to the state cache's change log).
/// </summary>
internal sealed partial class EmailSendGuard
{
    internal TenantLimitCache TenantLimits => _tenantLimits;

    /// <summary>Drops the cached limits of <paramref name="tenants"/>, or of every tenant when it is <see langword="null"/>.</summary>
    internal void InvalidateTenantLimits(IReadOnlyList<string>? tenants)
    {
        if (tenants is null)
        {
            _tenantLimits.InvalidateAll();
            return;
        }

        foreach (string tenant in tenants)
        {
            if (tenant is not null)
            {
                _tenantLimits.Invalidate(tenant);
            }
        }
    }
}
