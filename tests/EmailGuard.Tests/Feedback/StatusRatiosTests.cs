using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Feedback;

/// <summary><see cref="IEmailSendGuard.GetStatusAsync"/> reports each queried party's ratios, the counts behind them, and its breaker's state.</summary>
public sealed class StatusRatiosTests
{
    private static FeedbackTestApp App() => new(
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(1_000)),
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 20;
            o.NetworkBouncesToBan = 2;
            o.ComplaintRateToReduce = 0.5;
            o.ComplaintRateToSuspend = 0.5;
        }));

    private static EmailGuardStatusQuery Query => new()
    {
        TenantId = "acme",
        UserId = "user-42",
        Sender = "noreply@app.example",
        Category = "signup",
        ClientIp = IPAddress.Parse("203.0.113.7"),
    };

    [Fact]
    public async Task Status_ReportsEveryQueriedPartysRatios_AsTheFeedbackCountsHaveThem()
    {
        await using FeedbackTestApp app = App();
        for (int i = 0; i < 60; i++)
        {
            (await app.CheckAsync($"r{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        EmailSendAttribution attribution = new() { TenantId = "acme", UserId = "user-42", Sender = "noreply@app.example", Category = "signup" };
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b1", recipient: "r1@example.com", attribution: attribution));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("c1", EmailFeedbackKind.Complained, recipient: "r2@example.com", attribution: attribution));

        EmailGuardStatus status = await app.Guard.GetStatusAsync(Query);
        IReadOnlyList<EmailFeedbackCounts> counts = await app.Counts.GetStatusAsync(Query);

        status.Ratios.Select(r => (r.Counts.Dimension, r.Counts.Partition)).Should().Equal(counts.Select(c => (c.Dimension, c.Partition)));
        status.Ratios.Select(r => r.Counts).Should().BeEquivalentTo(counts);
        EmailPartyRatioStatus tenant = status.Ratios[1];
        (tenant.Counts.Sends, tenant.Counts.Bounces, tenant.Counts.Complaints).Should().Be((60L, 1L, 1L));
        tenant.Counts.BounceRate.Should().Be(1.0 / 60);
        tenant.Counts.ComplaintRate.Should().Be(1.0 / 60);
        status.Ratios[^1].Counts.Dimension.Should().Be(EmailGuardDimension.ClientIp);
        status.Ratios[^1].Counts.Partition.Should().Be("203.0.113.7/32");
        status.Ratios[^1].Counts.Sends.Should().Be(60);
        status.Ratios.Should().OnlyContain(r => r.BreakerState == EmailRatioBreakerState.Closed && r.BreakerUntil == null && r.BreakerReason == null);
        status.Usage.Should().NotBeEmpty("the ratios come next to the usage, not instead of it");
    }

    [Fact]
    public async Task Status_BannedClientNetwork_IsTrippedUntilTheBanEnds()
    {
        await using FeedbackTestApp app = App();
        EmailSendAttribution fromBot = new() { ClientNetwork = "203.0.113.7/32", EndpointPolicy = "signup" };
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b1", recipient: "x1@example.com", attribution: fromBot));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b2", recipient: "x2@example.com", attribution: fromBot));

        EmailPartyRatioStatus network = (await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { ClientIp = IPAddress.Parse("203.0.113.7") })).Ratios[^1];

        network.BreakerState.Should().Be(EmailRatioBreakerState.Tripped);
        network.BreakerAction.Should().Be(EmailRatioBreakerAction.NetworkBanned);
        network.BreakerReason.Should().Be(EmailGuardFlagReasons.HighBounceRate);
        network.BreakerUntil.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromDays(1));
        network.Counts.Bounces.Should().Be(2);
    }

    [Fact]
    public async Task Bounces_FromTwoAddressesOfASlash24_BanTheSlash24TheGuardCounts()
    {
        // One bounce from each of two addresses: two /32s with one bounce each would ban nothing.
        await using FeedbackTestApp app = new(
            guard: o => o.IPv4PrefixLength = 24,
            more: s => s.Configure<EmailRatioBreakerOptions>(o => o.NetworkBouncesToBan = 2));
        foreach ((string ip, string to) in new[] { ("203.0.113.7", "x1@example.com"), ("203.0.113.8", "x2@example.com") })
        {
            EmailSendDecision sent = await app.Guard.CheckAsync(new OutboundEmail { To = [to], ClientIp = IPAddress.Parse(ip) });
            await app.Feedback.RecordAsync(FeedbackTestApp.Event("b-" + to, recipient: to, attribution: sent.Attribution));
        }

        EmailPartyRatioStatus network = (await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { ClientIp = IPAddress.Parse("203.0.113.200") })).Ratios[^1];

        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24")).Should().NotBeNull();
        network.Counts.Partition.Should().Be("203.0.113.0/24");
        network.BreakerAction.Should().Be(EmailRatioBreakerAction.NetworkBanned);
        network.Counts.Bounces.Should().Be(2);
    }

    [Fact]
    public async Task Status_SuspendedTenant_ReportsTheStrongestTrip()
    {
        await using FeedbackTestApp app = App();
        for (int i = 0; i < 50; i++)
        {
            await app.CheckAsync($"r{i}@example.com");
        }

        EmailSendAttribution attribution = new() { TenantId = "acme" };
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b1", recipient: "r1@example.com", attribution: attribution));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("b2", recipient: "r2@example.com", attribution: attribution));

        EmailPartyRatioStatus tenant = (await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" })).Ratios[1];
        tenant.BreakerState.Should().Be(EmailRatioBreakerState.Tripped);
        tenant.BreakerAction.Should().Be(EmailRatioBreakerAction.Suspended, "2 in 50 is the 4 % suspension line");
        tenant.BreakerUntil.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromHours(6));
        tenant.HalfOpenUntil.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromHours(12));
    }

    [Fact]
    public async Task Status_InvalidSender_IsReportedAndLeftOutOfTheRatios()
    {
        await using FeedbackTestApp app = App();

        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme", Sender = "not an address" });

        status.InvalidAddress.Should().Be("not an address");
        status.Ratios.Select(r => r.Counts.Dimension).Should().Equal(EmailGuardDimension.Global, EmailGuardDimension.Tenant);
    }
}
