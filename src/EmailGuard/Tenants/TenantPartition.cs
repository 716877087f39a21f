namespace EmailGuard;

/// <summary>
/// The partition a tenant's own counters show under the tenant dimension (in denials, usage, status and limit events,
/// and in the feedback ratios: their counts, the ratio breakers' events, the dashboard's rows), told apart from a tenant
/// pool's <c>pool:&lt;name&gt;</c> (<see cref="TenantPoolRules.PartitionPrefix"/>).
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

    /// <summary>
    /// The tenant id a partition shown by <see cref="Of"/> stands for: the inverse of <see cref="Of"/>, for a caller that
    /// holds only what is shown (the ratio breakers' state of a tenant's counts) and looks the tenant's flags up by its id.
    /// </summary>
    /// <remarks>
    /// Exact: <see cref="Of"/> puts <c>tenant:</c> before exactly the ids that read as a pool, and an id that begins with
    /// <c>tenant:</c> followed by one that reads as a pool reads as a pool itself, so it is never shown unescaped.
    /// </remarks>
    public static string IdOf(string partition)
        => partition.StartsWith(EscapePrefix, StringComparison.OrdinalIgnoreCase) && ReadsAsPool(partition) ? partition[EscapePrefix.Length..] : partition;

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
