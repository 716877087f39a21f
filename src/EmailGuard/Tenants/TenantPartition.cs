namespace EmailGuard;

/// <summary>
/// The partition a tenant's own counters show under the tenant dimension (in denials, usage, status and limit events),
/// told apart from a tenant pool's <c>pool:&lt;name&gt;</c> (<see cref="TenantPoolRules.PartitionPrefix"/>).
/// </summary>
/// <remarks>
/// A tenant's partition is its id, except for an id that would read as a pool, or as such an id shown this way: one that
/// begins with <c>pool:</c> after any number of <c>tenant:</c>, in any case. Those are shown with <c>tenant:</c> before
/// them (<c>pool:trial</c> as <c>tenant:pool:trial</c>), so a partition that begins with <c>pool:</c> is always a pool
/// and no two tenants, or a tenant and a pool, show the same partition. Only what is shown changes: the tenant's counter
/// keys are made from its id, as before.
/// </remarks>
internal static class TenantPartition
{
    /// <summary>What is put before a tenant id that would otherwise read as a pool.</summary>
    public const string EscapePrefix = "tenant:";

    /// <summary>The partition of <paramref name="tenantId"/>: the id itself unless it would read as a pool's.</summary>
    public static string Of(string tenantId) => ReadsAsPool(tenantId) ? EscapePrefix + tenantId : tenantId;

    private static bool ReadsAsPool(string tenantId)
    {
        ReadOnlySpan<char> rest = tenantId;
        while (rest.StartsWith(EscapePrefix, StringComparison.OrdinalIgnoreCase))
        {
            rest = rest[EscapePrefix.Length..];
        }

        return rest.StartsWith(TenantPoolRules.PartitionPrefix, StringComparison.OrdinalIgnoreCase);
    }
}
