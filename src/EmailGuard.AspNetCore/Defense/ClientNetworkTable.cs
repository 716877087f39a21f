using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The client-network deny and allow entries, indexed for longest-prefix match: one hash table per prefix length in
/// use, tried from the longest, so a lookup costs one probe per distinct prefix length however many entries there are.
/// A more specific entry wins; at equal length, deny wins over allow.
/// </summary>
internal sealed class ClientNetworkTable
{
    public static readonly ClientNetworkTable Empty = new([]);

    private readonly Family _v4 = new(32);
    private readonly Family _v6 = new(128);

    public ClientNetworkTable(IEnumerable<EmailGuardListEntry> entries)
    {
        foreach (EmailGuardListEntry entry in entries)
        {
            if (entry.PartyType != EmailGuardPartyType.ClientNetwork
                || !IpAddressGrouping.TryParseNetwork(entry.Value, out IPAddress? network, out int prefix))
            {
                continue;
            }

            Family family = network.AddressFamily == AddressFamily.InterNetwork ? _v4 : _v6;
            family.Add(ToBits(network), prefix, entry);
            Count++;
        }

        _v4.Seal();
        _v6.Seal();
    }

    public int Count { get; }

    public bool IsEmpty => Count == 0;

    /// <summary>The most specific active entry whose network holds <paramref name="address"/>, or null.</summary>
    public EmailGuardListEntry? Match(IPAddress address, DateTimeOffset now)
    {
        // A client that an IPv6 address only carries (mapped, NAT64, 6to4, Teredo) matches the entries of its IPv4
        // address, and an entry naming the IPv6 network (a ban of all of 2002::/16) still matches it.
        IPAddress carried = IpAddressGrouping.UnwrapIPv4(address);
        EmailGuardListEntry? match = Match(carried.AddressFamily == AddressFamily.InterNetwork ? _v4 : _v6, carried, now);
        return match is null && !ReferenceEquals(carried, address) && !address.IsIPv4MappedToIPv6
            ? Match(_v6, address, now)
            : match;
    }

    private static EmailGuardListEntry? Match(Family family, IPAddress address, DateTimeOffset now) => family.Match(ToBits(address), now);

    private static UInt128 ToBits(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int written);
        return written == 4
            ? BinaryPrimitives.ReadUInt32BigEndian(bytes)
            : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    private sealed class Family(int bits)
    {
        private readonly Dictionary<int, Dictionary<UInt128, Slot>> _byPrefix = [];
        private int[] _prefixes = [];

        public void Add(UInt128 network, int prefix, EmailGuardListEntry entry)
        {
            if (!_byPrefix.TryGetValue(prefix, out Dictionary<UInt128, Slot>? table))
            {
                _byPrefix[prefix] = table = [];
            }

            table.TryGetValue(network & Mask(prefix), out Slot slot);
            if (entry.Kind == EmailGuardListKind.Blocklist)
            {
                slot.Deny = entry;
            }
            else
            {
                slot.Allow = entry;
            }

            table[network & Mask(prefix)] = slot;
        }

        public void Seal() => _prefixes = [.. _byPrefix.Keys.OrderDescending()];

        public EmailGuardListEntry? Match(UInt128 address, DateTimeOffset now)
        {
            foreach (int prefix in _prefixes)
            {
                if (_byPrefix[prefix].TryGetValue(address & Mask(prefix), out Slot slot))
                {
                    if (slot.Deny is { } deny && deny.IsActive(now))
                    {
                        return deny;
                    }

                    if (slot.Allow is { } allow && allow.IsActive(now))
                    {
                        return allow;
                    }
                }
            }

            return null;
        }

        private UInt128 Mask(int prefix) => prefix == 0 ? UInt128.Zero : (UInt128.MaxValue << (bits - prefix)) & (bits == 32 ? uint.MaxValue : UInt128.MaxValue);
    }

    private struct Slot
    {
        public EmailGuardListEntry? Deny;
        public EmailGuardListEntry? Allow;
    }
}
