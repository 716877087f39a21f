using System.Net;
using System.Text.RegularExpressions;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Every row that names a tenant or a user (the overview's usage, ratio and top-party rows, the flags list) links to the
/// flags page's lookup of that party, which shows its own usage (a tenant's caps and its pool's), its flags, and its
/// ratios with where its breaker stands: the page an operator paged about a burning tenant needs. A tenant whose id
/// reads as a pool's partition links to the lookup of its own id, and a hostile id is escaped and answered with a 200.
/// </summary>
public sealed class DashboardPartyLookupTests
{
    [Fact]
    public async Task Overview_TenantAndUserRows_LinkToTheirLookups_WhichShowTheirUsageFlagsAndRatios()
    {
        // Arrange: acme (3 an hour) sends twice as the user u-1; one bounces, and the operator flags acme.
        await using DashboardHost host = await DashboardHost.StartAsync();
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        EmailSendDecision first = await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "acme", UserId = "u-1" });
        (await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "acme", UserId = "u-1" })).IsAllowed.Should().BeTrue();
        await host.Services.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "b1",
            Recipient = "a@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = first.Attribution,
        });
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        using HttpClient client = host.Client();
        const string Acme = "<a href=\"/emailguard/flags?type=Tenant&amp;id=acme\">acme</a>", User = "<a href=\"/emailguard/flags?type=User&amp;id=u-1\">u-1</a>";

        // Act
        string overview = await client.GetStringAsync("/emailguard/");
        string flagsList = await client.GetStringAsync("/emailguard/flags");
        string tenant = await client.GetStringAsync(Href(overview, Acme));
        string user = await client.GetStringAsync(Href(overview, User));

        // Assert: the overview's rows link to the lookups.
        first.IsAllowed.Should().BeTrue();
        overview.Should().Contain($"<tr><td>Tenant</td><td>{Acme}</td><td>3 per hour (FixedWindow)</td><td class=\"num\">2</td>", "acme's usage row");
        overview.Should().Contain($"<tr><td>User</td><td>{User}</td><td>1,000 per hour (FixedWindow)</td><td class=\"num\">2</td>", "u-1's usage row");
        overview.Should().Contain($"<tr class=\"ratio\" data-dimension=\"Tenant\"><td>Tenant</td><td>{Acme}</td><td class=\"num\">2</td><td class=\"num\">1</td>", "acme's ratio row");
        overview.Should().Contain($"<h3>Tenants by usage</h3><table><tr><th>Tenants</th><th>Permits</th></tr><tr><td>{Acme}</td>", "acme among the top tenants");
        flagsList.Should().Contain($"<tr class=\"flag\"><td>Tenant</td><td>{Acme}</td><td>manual</td>", "the flags list's row of acme");

        // The tenant's lookup: its usage (the flag suspends it, so the status shows the cap it leaves), its flag, its ratios.
        tenant.Should().Contain("<h2>Tenant <span id=\"party-name\">acme</span></h2>");
        tenant.Should().MatchRegex($"<table id=\"party-usage\">.*<tr><td>Tenant</td><td>{Regex.Escape(Acme)}</td><td>3 per hour \\(FixedWindow\\)</td><td class=\"num\">2</td>");
        tenant.Should().Contain($"<table id=\"party-flags\"><tr><th>Party</th><th>Flag</th><th>Effect</th><th>Until</th><th>By</th></tr><tr><td>{Acme}</td><td>manual</td><td>suspended</td>");
        tenant.Should().Contain($"<table id=\"party-ratios\"><tr><th>Party</th><th>Sends</th><th>Bounces</th><th>Complaints</th><th>Bounce rate</th><th>Complaint rate</th><th>Breaker</th></tr><tr><td>{Acme}</td><td class=\"num\">2</td><td class=\"num\">1</td><td class=\"num\">0</td><td>50%</td><td>0%</td><td>closed</td></tr>");
        tenant.Should().NotContain("u-1", "a tenant's lookup shows the tenant alone");

        // The user's lookup: its own cap, no flag.
        user.Should().Contain("<h2>User <span id=\"party-name\">u-1</span></h2>");
        user.Should().MatchRegex($"<table id=\"party-usage\">.*<tr><td>User</td><td>{Regex.Escape(User)}</td><td>1,000 per hour \\(FixedWindow\\)</td><td class=\"num\">2</td>");
        user.Should().Contain("id=\"party-no-flags\"");
    }

    [Fact]
    public async Task TenantNamedLikeAPool_LinksToItsOwnId_AndItsLookupShowsItsOwnCounters_NotThePools()
    {
        // Arrange: the trial pool caps at 2 a day; the tenant 'pool:trial' is in no pool, with 5 a day of its own.
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(t => t == "pool:trial"
                ? new TenantLimits { Rules = [RateLimitRule.PerDay(5)] }
                : new TenantLimits { Rules = [RateLimitRule.PerDay(10)], Pool = "trial" }));
            s.Configure<SendGuardOptions>(o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)));
        });
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        (await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "trial-1" })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "pool:trial" })).IsAllowed.Should().BeTrue();
        using HttpClient client = host.Client();
        const string Escaped = "<a href=\"/emailguard/flags?type=Tenant&amp;id=pool%3Atrial\">tenant:pool:trial</a>";

        // Act
        string overview = await client.GetStringAsync("/emailguard/");
        string lookup = await client.GetStringAsync(Href(overview, Escaped));
        string member = await client.GetStringAsync("/emailguard/flags?type=Tenant&id=trial-1");

        // Assert: the escaped tenant's lookup shows its own 5 a day, used once, and no pool.
        lookup.Should().Contain("<h2>Tenant <span id=\"party-name\">pool:trial</span></h2>");
        lookup.Should().MatchRegex($"<table id=\"party-usage\">.*<tr><td>Tenant</td><td>{Regex.Escape(Escaped)}</td><td>5 per day \\(UTC\\) \\(FixedWindow\\)</td><td class=\"num\">1</td>");
        lookup.Should().NotContain("Tenant pool</td>");

        // A pool member's lookup shows its pool's row too, linked to the pool's lookup.
        member.Should().Contain("<tr><td>Tenant pool</td><td><a href=\"/emailguard/flags?type=TenantPool&amp;id=trial\">trial</a></td><td>2 per day (UTC) (FixedWindow)</td><td class=\"num\">1</td>");
    }

    [Theory]
    [InlineData("Tenant")]
    [InlineData("User")]
    public async Task Lookup_HostileId_EscapedAndNo500(string type)
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        using HttpClient client = host.Client();

        HttpResponseMessage response = await client.GetAsync($"/emailguard/flags?type={type}&id=%3Cb%3Ex%3C%2Fb%3E%22%26id%3Dpaid");
        string html = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        html.Should().Contain($"<h2>{type} <span id=\"party-name\">&lt;b&gt;x&lt;/b&gt;&quot;&amp;id=paid</span></h2>");
        html.Should().NotContain("<b>x</b>");

        // An id far longer than any a check counts is answered too, not failed (it was a 500), and not echoed.
        HttpResponseMessage longId = await client.GetAsync($"/emailguard/flags?type={type}&id={new string('x', 5_000)}");
        longId.StatusCode.Should().Be(HttpStatusCode.OK);
        (await longId.Content.ReadAsStringAsync()).Should().Contain("id=\"party-invalid\"").And.NotContain(new string('x', 300));
    }

    /// <summary>The href of <paramref name="link"/> on <paramref name="page"/>, as a browser follows it.</summary>
    private static string Href(string page, string link)
    {
        page.Should().Contain(link);
        return WebUtility.HtmlDecode(link.Split('"')[1]);
    }
}
