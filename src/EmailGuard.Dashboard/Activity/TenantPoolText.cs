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

    /// <summary>The party as shown: a pool's name, a client network in CIDR notation, else the partition.</summary>
    public static string? Party(EmailGuardDimension dimension, string? partition)
        => IsPool(dimension, partition) ? partition![PartitionPrefix.Length..] : ClientNetworkText.Show(dimension, partition);
}
