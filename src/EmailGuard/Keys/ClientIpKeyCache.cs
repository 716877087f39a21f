using System.Net;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>Remembers the partition and counter key of client addresses (IPv4 and IPv6 each grouped by its prefix). Bounded.</summary>
internal sealed class ClientIpKeyCache(int ipv4PrefixLength, int ipv6PrefixLength, int capacity = BoundedKeyCache<IPAddress, (string, string)>.DefaultCapacity)
{
    private readonly BoundedKeyCache<IPAddress, (string Partition, string Key)> _cache = new(capacity);

    public (string Partition, string Key) Get(IPAddress address) => Get(address, _cache.NowMs());

    /// <summary>As <see cref="Get(IPAddress)"/>, with the cache's clock read moments ago (<see cref="SendGuardKeys.NowMs"/>).</summary>
    public (string Partition, string Key) Get(IPAddress address, long nowMs)
    {
        return _cache.TryGetValue(address, nowMs, out (string Partition, string Key) value) ? value : Add(address);
    }

    /// <summary>The partition and key of an address not cached, cached from now on.</summary>
    /// <remarks>Not inlined: a check inlines <see cref="Get(IPAddress, long)"/>, and this path's temporaries would widen its frame, zeroed on every call.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (string Partition, string Key) Add(IPAddress address)
    {
        string partition = IpAddressGrouping.GetPartition(address, ipv6PrefixLength: ipv6PrefixLength, ipv4PrefixLength: ipv4PrefixLength);
        (string Partition, string Key) value = (partition, PartitionKeys.ClientIpPrefix + partition);
        _cache.TryAdd(address, value);
        return value;
    }
}
