using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Wherever the dashboard shows a tenant pool by name (the overview's usage and rule rows, the flags list, an
/// alert's link), the name links to the flags page's lookup of the pool (<c>/flags?type=TenantPool&amp;id=trial</c>),
/// the name percent-encoded in the link and HTML-encoded on the page, so a hostile pool name neither breaks the page,
/// adds a query parameter, nor injects markup.
/// </summary>
public sealed class DashboardTenantPoolLinkTests
{
    /// <summary>A pool name that would end an attribute, open a tag, add a query parameter and cut the link, written as it is.</summary>
    private const string Hostile = "x\"><b>y</b>&id=paid#z";

    [Fact]
    public async Task Overview_PoolRows_LinkToThePoolsLookup_AHostileNameEscaped_AndTheLinkFindsThePool()
    {
        // Arrange: a trial tenant and a tenant of the hostile pool send one mail each.
        await using DashboardHost host = await StartAsync();
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "trial-1" })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "evil-1" })).IsAllowed.Should().BeTrue();
        using HttpClient client = host.Client();

        // Act
        HttpResponseMessage response = await client.GetAsync("/emailguard/");
        string html = await response.Content.ReadAsStringAsync();

        // Assert: the usage and rule rows of each pool link to its lookup.
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        string trial = Link("trial"), hostile = Link(Hostile);
        html.Should().Contain($"<tr><td>Tenant pool</td><td>{trial}</td><td>5 per hour (FixedWindow)</td><td class=\"num\">1</td>", "the pool's usage row");
        html.Should().Contain($"<tr><td>Tenant pool</td><td>{hostile}</td><td>7 per hour (FixedWindow)</td><td class=\"num\">1</td>", "the hostile pool's usage row, escaped");
        html.Should().Contain($"<tr><td>Tenant pool {trial}</td><td>5 per hour (FixedWindow)</td></tr>", "the pool's configured rule");
        html.Should().NotContain("<b>y</b>").And.NotContain("&id=paid").And.NotContain("pool:", "a pool is shown by its name, never its partition");

        // The hostile pool's link, followed as a browser follows it, looks that pool up.
        string href = WebUtility.HtmlDecode(hostile.Split('"')[1]);
        string lookup = await client.GetStringAsync(href);
        lookup.Should().Contain($"<h2>Tenant pool <span id=\"pool-name\">{HtmlEncoder.Default.Encode(Hostile)}</span></h2>");
        lookup.Should().Contain("<table id=\"pool-usage\">").And.NotContain("id=\"pool-unknown\"");
    }

    [Fact]
    public async Task FlagsList_PoolFlagRow_LinksToThePoolsLookup_AHostileNameEscaped()
    {
        await using DashboardHost host = await StartAsync();
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.TenantPool, Hostile, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "ops");
        using HttpClient client = host.Client();

        HttpResponseMessage response = await client.GetAsync("/emailguard/flags");
        string html = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        html.Should().Contain($"<tr class=\"flag\"><td>TenantPool</td><td>{Link(Hostile)}</td><td>high_bounce_rate</td>");
        html.Should().NotContain("<b>y</b>");
    }

    [Fact]
    public async Task Alert_PoolFlagged_LinksToThePoolsLookup_NotTheBareFlagsPage()
    {
        // Arrange
        await using AlertReceiver receiver = await AlertReceiver.StartAsync();
        await using DashboardHost host = await DashboardHost.StartAsync(o =>
        {
            o.WebhookUrl = new Uri(receiver.Address, "/webhook").ToString();
            o.WebhookSecret = "test-secret-0123456789";
            o.DashboardUrl = "https://admin.example.com/emailguard/";
            o.MaxAttempts = 1;
        });

        // Act
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.TenantPool, Hostile, EmailGuardFlagReasons.Manual);
        JsonElement alert = JsonDocument.Parse((await receiver.NextAsync("webhook")).Body).RootElement;

        // Assert
        alert.GetProperty("dashboardUrl").GetString().Should().Be("https://admin.example.com/emailguard/flags?type=TenantPool&id=" + Uri.EscapeDataString(Hostile));
    }

    /// <summary>The link the pages write for <paramref name="pool"/>: percent-encoded in the href, HTML-encoded throughout.</summary>
    private static string Link(string pool)
        => $"<a href=\"{HtmlEncoder.Default.Encode($"/emailguard/flags?type=TenantPool&id={Uri.EscapeDataString(pool)}")}\">{HtmlEncoder.Default.Encode(pool)}</a>";

    private static Task<DashboardHost> StartAsync()
        => DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(t => new TenantLimits
            {
                Rules = [RateLimitRule.PerDay(100)],
                Pool = t.StartsWith("trial-", StringComparison.Ordinal) ? "trial" : Hostile,
            }));
            s.Configure<SendGuardOptions>(o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(5));
                o.TenantPools[Hostile] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(7));
            });
        });
}
