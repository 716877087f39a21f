using System.Net;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The overview shows a tenant pool as a pool: its rules among the configured ones, its usage as "Tenant pool" and its
/// name, and its denials apart from the tenants' own; a tenant whose id reads as a pool stays a tenant. The flags page
/// looks a pool up by name and shows its own usage, flags and ratios.
/// </summary>
public sealed class DashboardTenantPoolTests
{
    [Fact]
    public async Task Overview_PoolDenial_ShowsThePoolsRulesUsageAndDenials_ApartFromATenantNamedLikeIt()
    {
        // Arrange: trial tenants share 2 a day; the tenant 'pool:trial' is in no pool and has 5 a day of its own.
        CountingTenantLimitProvider provider = new(t => t == "pool:trial"
            ? new TenantLimits { Rules = [RateLimitRule.PerDay(5)] }
            : new TenantLimits { Rules = [RateLimitRule.PerDay(10)], Pool = "trial" });
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<ITenantLimitProvider>(provider);
            s.Configure<SendGuardOptions>(o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)));
        });
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        EmailSendDecision[] trial =
        [
            await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "trial-1" }),
            await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "trial-2" }),
            await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "trial-1" }),
        ];
        (await guard.CheckAsync(new OutboundEmail { To = ["d@example.com"], TenantId = "pool:trial" })).IsAllowed.Should().BeTrue();
        using HttpClient client = host.Client();

        // Act
        string html = await client.GetStringAsync("/emailguard/");

        // Assert
        trial.Select(d => d.IsAllowed).Should().Equal(true, true, false);
        trial[2].Partition.Should().Be("pool:trial");
        html.Should().Contain("<td>LimitExceeded (Tenant pool)</td><td class=\"num\">1</td>", "a pool's denial is told from a tenant's own");
        html.Should().Contain("<tr><td>Tenant pool <a href=\"/emailguard/flags?type=TenantPool&amp;id=trial\">trial</a></td><td>2 per day (UTC) (FixedWindow)</td></tr>", "the pool's rule is among the configured ones");
        html.Should().Contain("<tr><td>Tenant pool</td><td><a href=\"/emailguard/flags?type=TenantPool&amp;id=trial\">trial</a></td><td>2 per day (UTC) (FixedWindow)</td><td class=\"num\">2</td><td class=\"num\">2</td>", "the pool's usage, full");
        html.Should().Contain("<tr><td>Tenant</td><td><a href=\"/emailguard/flags?type=Tenant&amp;id=pool%3Atrial\">tenant:pool:trial</a></td><td>5 per day (UTC) (FixedWindow)</td><td class=\"num\">1</td>", "the tenant named like the pool is a tenant, and links to the lookup of its own id");
    }

    [Fact]
    public async Task FlagsLookup_TenantPoolByName_ShowsItsUsageFlagsAndRatios_WithNoTenant()
    {
        // Arrange: two trial tenants send 3 of the pool's 10 an hour, one mail bounces, the pool is flagged (limits × 0.1).
        await using DashboardHost host = await StartTrialPoolAsync(o => o.StateRefreshInterval = TimeSpan.Zero);
        List<EmailSendDecision> sent = await SendThreeBounceOneAsync(host);
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.TenantPool, "trial", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "ops");
        using HttpClient client = host.Client();

        // Act: the name as the operator types it, padded and in capitals.
        string html = await client.GetStringAsync("/emailguard/flags?type=TenantPool&id=%20TRIAL%20");

        // Assert
        sent.Should().OnlyContain(d => d.IsAllowed);
        html.Should().Contain("<h2>Tenant pool <span id=\"pool-name\">trial</span></h2>");
        html.Should().Contain("<table id=\"pool-usage\"><tr><th>Rule</th><th>Used</th><th>Limit</th></tr><tr><td>1 per hour (FixedWindow)</td><td class=\"num\">3</td><td class=\"num\">1</td></tr></table>",
            "the pool's 10 an hour, cut to a tenth by the flag as the check cuts it, used 3 times");
        html.Should().Contain("<tr><td>high_bounce_rate</td><td>limits &#xD7; 0.1</td>");
        html.Should().Contain("<tr><td class=\"num\">3</td><td class=\"num\">1</td><td class=\"num\">0</td><td>33.333%</td><td>0%</td><td>Tripped (Reduced, high_bounce_rate) until ");
        html.Should().Contain("<tr class=\"flag\"><td>TenantPool</td><td><a href=\"/emailguard/flags?type=TenantPool&amp;id=trial\">trial</a></td><td>high_bounce_rate</td>", "the pool's flag heads the flags table, with its Clear button");
        html.Should().NotContain("trial-1", "no tenant is shown");
    }

    [Fact]
    public async Task Overview_PoolRatios_ShownBesideTheTenants_WithThePoolLinked()
    {
        // Arrange: two trial tenants send 3 mails of the pool; one bounces.
        await using DashboardHost host = await StartTrialPoolAsync(o => o.TenantPools["paid"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(10)));
        List<EmailSendDecision> sent = await SendThreeBounceOneAsync(host);
        using HttpClient client = host.Client();

        // Act
        string html = await client.GetStringAsync("/emailguard/");

        // Assert: the pool's own ratio row (3 sends, 1 bounce), as a pool, linked; the pool that sent nothing has none.
        sent.Should().OnlyContain(d => d.IsAllowed);
        html.Should().Contain("<tr class=\"ratio\" data-dimension=\"Tenant\"><td>Tenant pool</td><td><a href=\"/emailguard/flags?type=TenantPool&amp;id=trial\">trial</a></td><td class=\"num\">3</td><td class=\"num\">1</td><td class=\"num\">0</td>");
        html.Should().NotContain("id=paid\">paid</a></td><td class=\"num\">0</td>", "a pool with no mail in the window has no ratio row");
    }

    [Theory]
    [InlineData("%3Cb%3Ex%3C%2Fb%3E", "<p class=\"notice bad\" id=\"pool-unknown\">No tenant pool of this name")]
    [InlineData("trial-but-longer-than-any-pool-name", "<p class=\"notice bad\" id=\"pool-unknown\">Not a tenant pool's name: empty, or longer than 256 characters.</p>")]
    [InlineData("%20%09", "id=\"active-flags\"")]
    public async Task FlagsLookup_HostileTenantPoolName_EscapedBoundedAndNo500(string id, string expected)
    {
        await using DashboardHost host = await DashboardHost.StartAsync(services: s =>
            s.Configure<SendGuardOptions>(o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(10))));
        using HttpClient client = host.Client();
        string query = id.StartsWith("trial-but", StringComparison.Ordinal) ? id + new string('x', 2_000) : id;

        HttpResponseMessage response = await client.GetAsync($"/emailguard/flags?type=TenantPool&id={query}");
        string html = await response.Content.ReadAsStringAsync();

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        html.Should().Contain(expected);
        html.Should().NotContain("<b>x</b>").And.NotContain(new string('x', 300), "a name longer than any pool's is not echoed");
        if (id.StartsWith("%3C", StringComparison.Ordinal))
        {
            html.Should().Contain("<span id=\"pool-name\">&lt;b&gt;x&lt;/b&gt;</span>");
        }
    }

    /// <summary>A host whose every tenant is in the pool <c>trial</c>, capped at 10 an hour, with <paramref name="configure"/> after.</summary>
    private static Task<DashboardHost> StartTrialPoolAsync(Action<SendGuardOptions> configure)
        => DashboardHost.StartAsync(services: s =>
        {
            s.AddSingleton<ITenantLimitProvider>(new CountingTenantLimitProvider(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = "trial" }));
            s.Configure<SendGuardOptions>(o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(10));
                configure(o);
            });
        });

    /// <summary>Two trial tenants send 3 mails of the pool, and the first of them bounces.</summary>
    private static async Task<List<EmailSendDecision>> SendThreeBounceOneAsync(DashboardHost host)
    {
        IEmailSendGuard guard = host.Services.GetRequiredService<IEmailSendGuard>();
        List<EmailSendDecision> sent = [];
        foreach (string tenant in new[] { "trial-1", "trial-2", "trial-1" })
        {
            sent.Add(await guard.CheckAsync(new OutboundEmail { To = [$"{sent.Count}@example.com"], TenantId = tenant }));
        }

        await host.Services.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "b1",
            Recipient = "0@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = sent[0].Attribution,
        });
        return sent;
    }
}
