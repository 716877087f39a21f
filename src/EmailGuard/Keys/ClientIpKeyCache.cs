using System.Net;

namespace EmailGuard;

/// <summary>Remembers the partition and counter key of client addresses (IPv4 and IPv6 each grouped by its prefix). Bounded.</summary>
internal sealed class ClientIpKeyCache(int ipv4PrefixLength, int ipv6PrefixLength, int capacity = BoundedKeyCache<IPAddress, (string, string)>.DefaultCapacity)
{
    private readonly BoundedKeyCache<IPAddress, (string Partition, string Key)> _cache = new(capacity);

    public (string Partition, string Key) Get(IPAddress address) => Get(address, _cache.NowMs());

    /// <summary>As <see cref="Get(IPAddress)"/>, with the cache's clock read moments ago (<see cref="SendGuardKeys.NowMs"/>).</summary>
    public (string Partition, string Key) Get(IPAddress address, long nowMs)
    {
        if (_cache.TryGetValue(address, nowMs, out (string Partition, string Key) value))
        {
            return value;
        }

        string partition = IpAddressGrouping.GetPartition(address, ipv6PrefixLength: ipv6PrefixLength, ipv4PrefixLength: ipv4PrefixLength);
        value = (partition, PartitionKeys.ClientIpPrefix + partition);
        _cache.TryAdd(address, value);
        return value;
    }
}
