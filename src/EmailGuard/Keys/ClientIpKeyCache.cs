using System.Net;

namespace EmailGuard;

/// <summary>Remembers the partition and counter key of client addresses (IPv6 grouped by prefix). Bounded.</summary>
internal sealed class ClientIpKeyCache(int ipv6PrefixLength, int capacity = BoundedKeyCache<IPAddress, (string, string)>.DefaultCapacity)
{
    private readonly BoundedKeyCache<IPAddress, (string Partition, string Key)> _cache = new(capacity);

    public (string Partition, string Key) Get(IPAddress address)
    {
        if (_cache.TryGetValue(address, out (string Partition, string Key) value))
        {
            return value;
        }

        string partition = IpAddressGrouping.GetPartition(address, ipv6PrefixLength);
        value = (partition, PartitionKeys.ClientIpPrefix + partition);
        _cache.TryAdd(address, value);
        return value;
    }
}
