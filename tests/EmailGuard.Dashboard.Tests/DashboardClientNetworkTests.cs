using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The dashboard's client networks are the send guard's partitions, however it groups IPv4 clients.</summary>
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
}
