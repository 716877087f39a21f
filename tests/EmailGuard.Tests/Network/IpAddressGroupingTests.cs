using System.Net;

namespace EmailGuard.Tests.Network;

/// <summary>
/// An IPv6 address that only carries an IPv4 client is that client: grouped by its /64, a NAT64 translator's prefix
/// would make the whole IPv4 internet one client, and a 6to4 host would rotate through 65,536 of them.
/// </summary>
public sealed class IpAddressGroupingTests
{
    [Theory]
    [InlineData("::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData("64:ff9b::203.0.113.7", "203.0.113.7")]
    [InlineData("64:ff9b::cb00:7107", "203.0.113.7")]
    [InlineData("2002:cb00:7107::1", "203.0.113.7")]
    [InlineData("2002:cb00:7107:ffff:1:2:3:4", "203.0.113.7")]
    [InlineData("2001:0:4136:e378:8000:63bf:34ff:8ef8", "203.0.113.7")] // Teredo: 34ff:8ef8 is 203.0.113.7 inverted
    [InlineData("203.0.113.7", "203.0.113.7")]
    public void UnwrapIPv4_AddressCarryingAnIPv4Client_IsThatClient(string address, string expected)
        => IpAddressGrouping.UnwrapIPv4(IPAddress.Parse(address)).Should().Be(IPAddress.Parse(expected));

    [Theory]
    [InlineData("2001:db8::1")]
    [InlineData("64:ff9b:1::cb00:7107")] // the local-use prefix (RFC 8215) embeds by the operator's own length: not read
    [InlineData("2001:1::1")] // next to Teredo's /32, not in it
    [InlineData("2003:cb00:7107::1")]
    [InlineData("::1")]
    public void UnwrapIPv4_OtherIPv6_IsItself(string address)
    {
        IPAddress parsed = IPAddress.Parse(address);
        IpAddressGrouping.UnwrapIPv4(parsed).Should().BeSameAs(parsed);
    }

    [Theory]
    [InlineData("64:ff9b::203.0.113.7", 32, "203.0.113.7")]
    [InlineData("64:ff9b::203.0.113.7", 24, "203.0.113.0/24")]
    [InlineData("2002:cb00:7107:1::1", 32, "203.0.113.7")]
    [InlineData("2002:cb00:7107:2::1", 32, "203.0.113.7")]
    [InlineData("2001:0:4136:e378:8000:63bf:34ff:8ef8", 32, "203.0.113.7")]
    [InlineData("2001:db8:1:2::1", 32, "2001:db8:1:2::/64")]
    public void GetPartition_CarriedIPv4_GroupedAsIPv4(string address, int ipv4PrefixLength, string expected)
        => IpAddressGrouping.GetPartition(IPAddress.Parse(address), ipv4PrefixLength: ipv4PrefixLength).Should().Be(expected);

    [Fact]
    public void GetPartition_TwoNat64Clients_AreTwoPartitions()
        => IpAddressGrouping.GetPartition(IPAddress.Parse("64:ff9b::198.51.100.1"))
            .Should().NotBe(IpAddressGrouping.GetPartition(IPAddress.Parse("64:ff9b::198.51.100.2")));

    [Theory]
    [InlineData("64:ff9b::203.0.113.7", "203.0.113.0", 24, true)]
    [InlineData("2002:cb00:7107::1", "203.0.113.0", 24, true)]
    [InlineData("2002:cb00:7107::1", "2002::", 16, true)] // an entry naming the tunnel's range still matches
    [InlineData("2001:0:4136:e378:8000:63bf:34ff:8ef8", "2001::", 32, true)]
    [InlineData("64:ff9b::203.0.113.7", "64:ff9b::", 96, true)]
    [InlineData("64:ff9b::198.51.100.7", "203.0.113.0", 24, false)]
    public void IsInNetwork_CarriedIPv4_MatchesTheIPv4NetworkAndTheIPv6One(string address, string network, int prefix, bool expected)
        => IpAddressGrouping.IsInNetwork(IPAddress.Parse(address), IPAddress.Parse(network), prefix).Should().Be(expected);

    [Theory]
    [InlineData("64:ff9b::203.0.113.0/120", "203.0.113.0/24")]
    [InlineData("64:ff9b::203.0.113.7", "203.0.113.7/32")]
    [InlineData("64:ff9b::/64", "64:ff9b::/64")]
    [InlineData("64:ff9b::/96", "64:ff9b::/96")] // saved before NAT64 was read: as IPv4 it would be 0.0.0.0/0, every client
    [InlineData("64:ff9b::/103", "64:ff9b::/103")]
    [InlineData("64:ff9b::10.0.0.0/104", "10.0.0.0/8")]
    [InlineData("2002:cb00:7107::/48", "2002:cb00:7107::/48")]
    public void NormalizeNetwork_Nat64Network_IsTheIPv4NetworkItCarries(string value, string expected)
        => IpAddressGrouping.NormalizeNetwork(value).Should().Be(expected);
}
