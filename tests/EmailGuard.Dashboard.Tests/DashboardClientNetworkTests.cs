using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The dashboard's client networks are the send guard's partitions, however it groups clients, and are written one way
/// everywhere: in CIDR notation, as the lists store them, also for a single address (/32, /128).
/// </summary>
public sealed class DashboardClientNetworkTests
{
    [Fact]
    public async Task Overview_SendGuardGroupingIPv4BySlash24_ShowsAndLooksUpTheSlash24()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.Configure<SendGuardOptions>(o =>
        {
            o.IPv4PrefixLength = 24;
            o.ClientIp.Add(RateLimitRule.PerHour(50));
        }));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], ClientIp = IPAddress.Parse("203.0.113.7") });
        await guard.CheckAsync(new OutboundEmail { To = ["b@example.com", "c@example.com"], ClientIp = IPAddress.Parse("203.0.113.8") });

        string html = await host.Client().GetStringAsync("/emailguard/");

        host.Services.GetRequiredService<EmailGuardMonitor>().Activity.Top(ActivityDimension.ClientNetwork, denials: false, 10)
            .Should().Equal(new TopParty("203.0.113.0/24", 3, 0));
        html.Should().Contain("<td>ClientIp</td><td>203.0.113.0/24</td>", "the usage row is the status of the network the top list names");
        html.Should().NotContain("203.0.113.7").And.NotContain("203.0.113.8");
    }

    [Theory]
    [InlineData("198.51.100.7", 64, "198.51.100.7/32")]
    [InlineData("2001:db8::7", 128, "2001:db8::7/128")]
    public async Task SingleAddressNetwork_IsWrittenOneWay_InTheTopList_TheUsage_AndTheIpList_AndAFormTakesEitherSpelling(string address, int ipv6PrefixLength, string cidr)
    {
        // Arrange: the guard counts each address alone (IPv4 /32, or IPv6 /128 here).
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.Configure<SendGuardOptions>(o =>
        {
            o.IPv6PrefixLength = ipv6PrefixLength;
            o.ClientIp.Add(RateLimitRule.PerHour(50));
        }));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], ClientIp = IPAddress.Parse(address) });
        using HttpClient client = host.Client(roles: "ops,admin");

        // Act: the overview; the network banned by its bare address, then removed by the spelling the dashboard shows.
        string overview = await client.GetStringAsync("/emailguard/");
        string token = DashboardPage.TokenPattern().Match(await client.GetStringAsync("/emailguard/lists?kind=Blocklist&type=ClientNetwork")).Groups[1].Value;
        await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", address), ("reason", "manual")));
        string listed = await client.GetStringAsync("/emailguard/lists?kind=Blocklist&type=ClientNetwork");
        await client.PostAsync("/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", cidr), ("confirmed", "yes")));
        EmailGuardListPage after = await host.Services.GetRequiredService<IEmailGuardLists>().ListAsync(
            new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.ClientNetwork });

        // Assert
        host.Services.GetRequiredService<EmailGuardMonitor>().Activity.Top(ActivityDimension.ClientNetwork, denials: false, 10)
            .Should().Equal(new TopParty(cidr, 1, 0));
        overview.Should().Contain($"<td>ClientIp</td><td>{cidr}</td>", "the usage row names the network as the top list does")
            .And.Contain($"<td>{cidr}</td><td class=\"num\">1</td>")
            .And.NotContain($">{address}<", "the bare address is another spelling of the same network");
        listed.Split("<tr class=\"entry\">")[1..].Should().ContainSingle().Which.Should().Contain($"<td>{cidr}</td>");
        after.TotalCount.Should().Be(0, "a form posting either spelling acts on the same entry");
    }

    private static FormUrlEncodedContent Form(string token, params (string Name, string Value)[] fields)
        => new([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
}
