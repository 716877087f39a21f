namespace EmailGuard.Dashboard;

/// <summary>
/// How the dashboard shows a tenant pool's counters: the send guard counts a pool under the tenant dimension as the
/// partition <c>pool:&lt;name&gt;</c>, which no tenant's own partition begins with (a tenant id that would is shown
/// as <c>tenant:pool:...</c>), so a pool's row, denial and alert read "Tenant pool" and the pool's name.
/// </summary>
internal static class TenantPoolText
{
    /// <summary>What a pool's partition begins with, before its name (docs/getting-started.md, tenant pools).</summary>
    public const string PartitionPrefix = "pool:";

    /// <summary>Whether the counter of <paramref name="dimension"/> and <paramref name="partition"/> is a tenant pool's.</summary>
    public static bool IsPool(EmailGuardDimension dimension, string? partition)
        => dimension == EmailGuardDimension.Tenant && partition is not null && partition.StartsWith(PartitionPrefix, StringComparison.Ordinal);

    /// <summary>The dimension as shown: "Tenant pool" for a pool's counter.</summary>
    public static string Dimension(EmailGuardDimension dimension, string? partition)
        => IsPool(dimension, partition) ? "Tenant pool" : dimension.ToString();

    /// <summary>
    /// What a tenant id that would read as a pool's partition is shown with before it (<c>tenant:pool:trial</c> for the
    /// tenant <c>pool:trial</c>; docs/getting-started.md, tenant pools).
    /// </summary>
    public const string TenantEscapePrefix = "tenant:";

    /// <summary>
    /// The party the flags page looks up for the counter of <paramref name="dimension"/> and <paramref name="partition"/>:
    /// a pool by its name, a tenant by its id, a user by its partition; none for any other counter.
    /// </summary>
    public static (EmailGuardPartyType? Type, string? Id) LookUp(EmailGuardDimension dimension, string? partition) => partition is null
        ? (null, null)
        : IsPool(dimension, partition) ? (EmailGuardPartyType.TenantPool, partition[PartitionPrefix.Length..])
        : dimension == EmailGuardDimension.Tenant ? (EmailGuardPartyType.Tenant, TenantId(partition))
        : dimension == EmailGuardDimension.User ? (EmailGuardPartyType.User, partition)
        : (null, null);

    /// <summary>
    /// The tenant id a tenant's partition stands for: the partition itself, but for an id that would read as a pool's
    /// (one that begins with <c>pool:</c> after any number of <c>tenant:</c>), which is shown with one more
    /// <c>tenant:</c> before it.
    /// </summary>
    public static string TenantId(string partition)
    {
        ReadOnlySpan<char> rest = partition;
        while (rest.StartsWith(TenantEscapePrefix, StringComparison.OrdinalIgnoreCase))
        {
            rest = rest[TenantEscapePrefix.Length..];
        }

        return rest.Length < partition.Length && rest.StartsWith(PartitionPrefix, StringComparison.OrdinalIgnoreCase) ? partition[TenantEscapePrefix.Length..] : partition;
    }

    /// <summary>The party as shown: a pool's name, a client network in CIDR notation, else the partition.</summary>
    public static string? Party(EmailGuardDimension dimension, string? partition)
        => IsPool(dimension, partition) ? partition![PartitionPrefix.Length..] : ClientNetworkText.Show(dimension, partition);
}
