using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The overview shows the provider budget: each global rule's window and each active tenant's share, escaped.</summary>
public sealed class DashboardProviderBudgetTests
{
    private const string HostileTenant = "\"><script>alert('share')</script>";

    [Fact]
    public async Task Overview_FairShareOn_ShowsEachActiveTenantsWeightShareAndUse_Escaped()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.Configure<SendGuardOptions>(o =>
        {
            o.FairShare.Enabled = true;
            o.FairShare.ContentionThreshold = 0;
        }));
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme" });
        await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = HostileTenant });
        await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = HostileTenant });
        using HttpClient client = host.Client();

        string html = await client.GetStringAsync("/emailguard/");

        html.Should().Contain("<table id=\"provider-budget\">");
        html.Should().MatchRegex("<tr class=\"provider-rule\" data-shape=\"f3600000\" data-contended=\"true\"><td>[^<]*</td><td class=\"num\">3</td><td class=\"num\">100,000</td><td class=\"num\">99,997</td>");
        html.Should().Contain("2 active tenants, weight 2");
        html.Should().MatchRegex("<tr class=\"tenant-share\" data-tenant=\"acme\"><td>acme</td><td>1 \\(default\\)</td><td class=\"num\">50,000</td><td class=\"num\">1</td></tr>");
        html.Should().NotContain("<script>alert('share')").And.Contain("&lt;script&gt;alert(");
        html.Should().Contain("<td class=\"num\">50,000</td><td class=\"num\">2</td></tr>", "the hostile tenant's own share and use");
    }

    [Fact]
    public async Task Overview_FairShareOff_ShowsTheGlobalRuleNotShared()
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        await host.Services.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme" });
        using HttpClient client = host.Client();

        string html = await client.GetStringAsync("/emailguard/");

        html.Should().Contain("data-contended=\"false\"").And.Contain("not shared (fair share off)").And.NotContain("class=\"tenant-share\"");
    }
}
