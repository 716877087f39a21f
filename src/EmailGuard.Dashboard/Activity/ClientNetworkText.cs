namespace EmailGuard.Dashboard;

/// <summary>
/// The one spelling the dashboard shows a client network in: CIDR notation always, as the lists store it
/// (<see cref="IpAddressGrouping.NormalizeNetwork"/>), so that a single address grouped at /32 (IPv4) or /128 (IPv6)
/// reads <c>198.51.100.7/32</c> in the top lists, the usage table, the ratios, the event log and the lists alike, and a
/// row found in one can be searched for or removed in another by what it shows.
/// </summary>
internal static class ClientNetworkText
{
    /// <summary>
    /// A send guard or endpoint partition (<c>198.51.100.7</c>, <c>203.0.113.0/24</c>, <c>2001:db8::/64</c>) in CIDR
    /// notation; the guard writes a network of a whole address without its prefix length.
    /// </summary>
    public static string Cidr(string partition)
        => partition.Contains('/', StringComparison.Ordinal)
            ? partition
            : partition + (partition.Contains(':', StringComparison.Ordinal) ? "/128" : "/32");

    /// <summary>A value of the client-network dimension or party as shown; <see langword="null"/> stays <see langword="null"/>.</summary>
    public static string? Show(EmailGuardDimension dimension, string? partition)
        => dimension == EmailGuardDimension.ClientIp && partition is not null ? Cidr(partition) : partition;
}
