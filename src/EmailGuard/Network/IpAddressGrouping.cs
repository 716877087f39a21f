using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EmailGuard;

/// <summary>
/// Turns a client IP into the partition that limits count against. An IPv6 client usually controls a whole /64 (or
/// more), so counting single IPv6 addresses would let it rotate through billions of them. An IPv6 address that only
/// carries an IPv4 client (<see cref="UnwrapIPv4"/>) is that IPv4 client.
/// </summary>
public static class IpAddressGrouping
{
    /// <summary>The IPv6 prefix length clients are grouped by unless configured otherwise.</summary>
    public const int DefaultIPv6PrefixLength = 64;

    /// <summary>
    /// Returns the partition of <paramref name="address"/>: the IPv4 address itself (or its prefix), or the IPv6
    /// network of the given prefix length in CIDR notation, e.g. <c>2001:db8:1:2::/64</c>.
    /// </summary>
    /// <param name="address">The client address.</param>
    /// <param name="ipv6PrefixLength">The IPv6 prefix length, 1 to 128.</param>
    /// <param name="ipv4PrefixLength">The IPv4 prefix length, 1 to 32; 32 counts each address alone.</param>
    /// <returns>The partition.</returns>
    public static string GetPartition(IPAddress address, int ipv6PrefixLength = DefaultIPv6PrefixLength, int ipv4PrefixLength = 32)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv6PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv6PrefixLength, 128);
        ArgumentOutOfRangeException.ThrowIfLessThan(ipv4PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ipv4PrefixLength, 32);

        address = UnwrapIPv4(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return ipv4PrefixLength == 32
                ? address.ToString()
                : string.Create(CultureInfo.InvariantCulture, $"{Mask(address, ipv4PrefixLength)}/{ipv4PrefixLength}");
        }

        return ipv6PrefixLength == 128
            ? new IPAddress(address.GetAddressBytes()).ToString()
            : string.Create(CultureInfo.InvariantCulture, $"{Mask(address, ipv6PrefixLength)}/{ipv6PrefixLength}");
    }

    /// <summary>Whether <paramref name="address"/> lies in <paramref name="network"/>/<paramref name="prefixLength"/>.</summary>
    /// <param name="address">The address to test.</param>
    /// <param name="network">The network address.</param>
    /// <param name="prefixLength">The prefix length.</param>
    /// <returns><see langword="true"/> when the address is inside the network.</returns>
    public static bool IsInNetwork(IPAddress address, IPAddress network, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(network);
        if (network.IsIPv4MappedToIPv6)
        {
            network = network.MapToIPv4();
        }

        IPAddress carried = UnwrapIPv4(address);
        return Contains(network, prefixLength, carried)
            || (!ReferenceEquals(carried, address) && !address.IsIPv4MappedToIPv6 && Contains(network, prefixLength, address));
    }

    /// <summary>
    /// The IPv4 client that <paramref name="address"/> stands for, where an IPv6 address only carries one; otherwise
    /// <paramref name="address"/> itself. Those are an IPv4-mapped address (<c>::ffff:203.0.113.7</c>); the NAT64 well-known
    /// prefix <c>64:ff9b::/96</c> (RFC 6052), which a NAT64 or SIIT translator in front of an IPv6-only app writes for
    /// every IPv4 client, so that grouped by its /64 the whole IPv4 internet would be one client; 6to4, <c>2002::/16</c>
    /// (RFC 3056), whose <c>2002:V4ADDR::/48</c> belongs to whoever holds the IPv4 address, so that grouped by /64 one
    /// IPv4 host would rotate through 65,536 clients; and Teredo, <c>2001::/32</c> (RFC 4380), which carries the
    /// client's public IPv4 address inverted and would otherwise group every client of one Teredo server together.
    /// Limits, lists and bans count the IPv4 client; a list entry that names the IPv6 network still matches it
    /// (<see cref="IsInNetwork"/>).
    /// </summary>
    /// <param name="address">The client address.</param>
    /// <returns>The IPv4 address carried, or <paramref name="address"/>.</returns>
    public static IPAddress UnwrapIPv4(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        switch (FormOf(bytes))
        {
            case CarriedForm.Nat64:
                return new IPAddress(bytes[12..]);
            case CarriedForm.SixToFour:
                return new IPAddress(bytes[2..6]);
            case CarriedForm.Teredo:
                Span<byte> client = bytes[12..];
                for (int i = 0; i < client.Length; i++)
                {
                    client[i] ^= 0xFF;
                }

                return new IPAddress(client);
            default:
                return address;
        }
    }

    /// <summary>
    /// The IPv4 network that an IPv6 network of carried clients (<see cref="UnwrapIPv4"/>) stands for, as its clients are
    /// counted: a NAT64 network at /97 or longer (<c>64:ff9b::203.0.113.0/120</c> is <c>203.0.113.0/24</c>), a 6to4
    /// network at /17 or longer (<c>2002:cb00:7100::/40</c> is <c>203.0.113.0/24</c>, a host's <c>/48</c> its
    /// <c>/32</c>), a Teredo address alone (/128; the client is written inverted, so a shorter prefix names no IPv4
    /// network). False for any other network, and for one too wide to name an IPv4 network (<c>2002::/16</c>).
    /// </summary>
    internal static bool TryGetCarriedIPv4Network(IPAddress network, int prefixLength, [NotNullWhen(true)] out IPAddress? ipv4, out int ipv4PrefixLength)
    {
        ipv4 = null;
        ipv4PrefixLength = 0;
        if (network.AddressFamily != AddressFamily.InterNetworkV6 || network.IsIPv4MappedToIPv6 || prefixLength is < 1 or > 128)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        network.TryWriteBytes(bytes, out _);
        int carried = FormOf(bytes) switch
        {
            CarriedForm.Nat64 => prefixLength - 96,
            CarriedForm.SixToFour => Math.Min(prefixLength - 16, 32),
            CarriedForm.Teredo when prefixLength == 128 => 32,
            _ => 0,
        };
        if (carried < 1)
        {
            return false;
        }

        ipv4 = Mask(UnwrapIPv4(network), carried);
        ipv4PrefixLength = carried;
        return true;
    }

    /// <summary>The first 96 bits of the NAT64 well-known prefix, <c>64:ff9b::/96</c>.</summary>
    private static ReadOnlySpan<byte> Nat64WellKnownPrefix => [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

    private static bool IsNat64(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        return address.AddressFamily == AddressFamily.InterNetworkV6
            && address.TryWriteBytes(bytes, out _)
            && FormOf(bytes) == CarriedForm.Nat64;
    }

    /// <summary>Which of the forms that carry an IPv4 client an IPv6 address's 16 bytes are in (not IPv4-mapped, which the runtime tells).</summary>
    private static CarriedForm FormOf(ReadOnlySpan<byte> bytes)
        => bytes[..12].SequenceEqual(Nat64WellKnownPrefix) ? CarriedForm.Nat64
            : bytes[0] == 0x20 && bytes[1] == 0x02 ? CarriedForm.SixToFour
            : bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0 && bytes[3] == 0 ? CarriedForm.Teredo
            : CarriedForm.None;

    private enum CarriedForm
    {
        None,

        /// <summary>NAT64's well-known prefix, <c>64:ff9b::/96</c> (RFC 6052): the client in the last 32 bits.</summary>
        Nat64,

        /// <summary>6to4, <c>2002::/16</c> (RFC 3056): the client in bits 16 to 47.</summary>
        SixToFour,

        /// <summary>Teredo, <c>2001::/32</c> (RFC 4380): the client in the last 32 bits, inverted.</summary>
        Teredo,
    }

    private static bool Contains(IPAddress network, int prefixLength, IPAddress address)
        => address.AddressFamily == network.AddressFamily
            && prefixLength >= 0
            && prefixLength <= (address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128)
            && Mask(address, prefixLength).Equals(Mask(network, prefixLength));

    /// <summary>
    /// Parses a single address (<c>203.0.113.7</c>, <c>2001:db8::1</c>) or a CIDR network (<c>10.0.0.0/8</c>,
    /// <c>2001:db8::/32</c>). The network is masked to its prefix, and an IPv4-mapped IPv6 address, or one of the NAT64
    /// prefix <c>64:ff9b::/96</c> at a prefix of 104 or more (an IPv4 /8 or narrower), is the IPv4 address it carries; a
    /// single address is a network of 32 (IPv4) or 128 (IPv6) bits.
    /// </summary>
    /// <param name="value">The text to parse.</param>
    /// <param name="network">The network address, masked to <paramref name="prefixLength"/>.</param>
    /// <param name="prefixLength">The prefix length.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is an address or a network.</returns>
    public static bool TryParseNetwork(string? value, [NotNullWhen(true)] out IPAddress? network, out int prefixLength)
    {
        network = null;
        prefixLength = 0;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        ReadOnlySpan<char> text = value.AsSpan().Trim();
        int slash = text.IndexOf('/');
        ReadOnlySpan<char> addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out IPAddress? address) || (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0))
        {
            return false;
        }

        int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = bits;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            if (prefix < 96)
            {
                return false;
            }

            address = address.MapToIPv4();
            prefix -= 96;
        }
        else if (prefix >= 96 + ListedNetworks.WidestIPv4Prefix && IsNat64(address))
        {
            // A NAT64 network (64:ff9b::203.0.113.0/120) is the IPv4 network it carries, as its clients are counted. A
            // wider one stays the IPv6 network it names (it matches NAT64 clients only): read as IPv4, an entry saved as
            // 64:ff9b::/96 would become 0.0.0.0/0, every client, past the width the lists allow.
            address = UnwrapIPv4(address);
            prefix -= 96;
        }

        network = Mask(address, prefix);
        prefixLength = prefix;
        return true;
    }

    /// <summary>
    /// The canonical text of an address or network as <see cref="TryParseNetwork"/> reads it: <c>network/prefix</c>,
    /// e.g. <c>203.0.113.7/32</c> or <c>2001:db8::/32</c>; <see langword="null"/> when it is neither.
    /// </summary>
    /// <param name="value">The text to normalize.</param>
    /// <returns>The canonical form, or <see langword="null"/>.</returns>
    public static string? NormalizeNetwork(string? value)
        => TryParseNetwork(value, out IPAddress? network, out int prefix)
            ? string.Create(CultureInfo.InvariantCulture, $"{network}/{prefix}")
            : null;

    private static IPAddress Mask(IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out int length);
        bytes = bytes[..length];
        for (int i = 0; i < bytes.Length; i++)
        {
            int bits = Math.Clamp(prefixLength - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }

        return new IPAddress(bytes);
    }
}
