using System.Diagnostics.Metrics;
using EmailGuard.Testing;
using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// Mail the provider never sent (the address is on its suppression list) was counted as a send when the guard admitted
/// it; the event counts it as not sent, and the ratios leave it out. The attack it stops: a tenant dilutes its bounce
/// ratio with mail, without a category, to addresses the provider has unsubscribed (suppressing nothing here), each a
/// send that never bounces. Only the guard's own record of the mail (its message-id mapping, or signed tags) offsets.
/// </summary>
public sealed class ProviderNotSentTests
{
    private static readonly string s_key = Convert.ToBase64String(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    private readonly BreakerEventLog _events = new();

    private FeedbackTestApp App(Action<EmailFeedbackOptions>? feedback = null, double reduce = 0.02, Action<IServiceCollection>? more = null) => new(
        feedback: feedback,
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(1_000)),
        more: s =>
        {
            more?.Invoke(s);
            s.Configure<EmailRatioBreakerOptions>(o =>
            {
                o.MinimumSends = 20;
                o.BounceRateToReduce = reduce;
                o.BounceRateToSuspend = 2 * reduce;
                o.NetworkBouncesToBan = 0;
                o.RiskyCategories.Clear();
                o.TripFor = TimeSpan.FromHours(6);
                o.HalfOpenFor = TimeSpan.FromHours(2);
                o.HalfOpenMinimumSends = 50;
                _events.Hook(o);
            });
        });

    /// <summary>Sends <paramref name="count"/> mails without a category, all admitted, each tracked under its message id.</summary>
    private static async Task<List<EmailSendAttribution>> SendAsync(FeedbackTestApp app, int count, string prefix, string tenant = "acme")
    {
        List<EmailSendAttribution> sent = [];
        for (int i = 0; i < count; i++)
        {
            OutboundEmail mail = FeedbackTestApp.Mail($"{prefix}{i}@example.com", category: null);
            EmailSendDecision decision = await app.Guard.CheckAsync(new OutboundEmail
            {
                To = mail.To,
                Sender = mail.Sender,
                TenantId = tenant,
                UserId = mail.UserId,
                ClientIp = mail.ClientIp,
            });
            decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Dimension}");
            await app.Feedback.TrackForProviderAsync("ses", $"<{prefix}{i}@app.example>", decision.Attribution!);
            sent.Add(decision.Attribution!);
        }

        return sent;
    }

    /// <summary>The provider's report that it dropped mail <paramref name="i"/> of <paramref name="prefix"/>: found by its message id.</summary>
    private static EmailFeedbackEvent NotSent(string prefix, int i, string? id = null) => new()
    {
        Provider = "ses",
        ProviderEventId = id ?? $"ns-{prefix}{i}",
        ProviderMessageId = $"<{prefix}{i}@app.example>",
        Recipient = $"{prefix}{i}@example.com",
        Kind = EmailFeedbackKind.Unsubscribed,
        SuppressedByProvider = true,
    };

    private static async Task NotSentAsync(FeedbackTestApp app, string prefix, int i)
        => (await app.Feedback.RecordAsync(NotSent(prefix, i))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

    private static async Task BounceAsync(FeedbackTestApp app, string recipient)
        => (await app.Feedback.RecordAsync(FeedbackTestApp.Event("b-" + recipient, recipient: recipient, attribution: new EmailSendAttribution { TenantId = "acme", UserId = "user-42" })))
            .Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

    private static async Task<long> SendsAsync(FeedbackTestApp app, string tenant = "acme") => (await app.Counts.GetAsync(EmailGuardDimension.Tenant, tenant)).Sends;

    private List<(EmailRatioBreakerAction, long, long)> TenantTrips()
        => [.. _events.Trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Action, t.Counts.Sends, t.Counts.Bounces))];

    private async Task<List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)>> DilutedAsync(int notSent)
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, 100, "real");
        await SendAsync(app, notSent, "unsub");
        for (int i = 0; i < notSent; i++)
        {
            await NotSentAsync(app, "unsub", i);
        }

        await BounceAsync(app, "real0@example.com");
        await BounceAsync(app, "real1@example.com");

        foreach (EmailFeedbackCounts counts in await app.Counts.GetStatusAsync(new EmailGuardStatusQuery
        {
            TenantId = "acme",
            UserId = "user-42",
            Sender = "noreply@app.example",
            ClientIp = System.Net.IPAddress.Parse("203.0.113.7"),
        }))
        {
            counts.Sends.Should().Be(100, $"the {counts.Dimension}'s {notSent} mails the provider never sent are left out");
        }

        return [.. _events.Trips.Select(t => (t.Dimension, t.Partition, t.Action, t.Counts.Sends, t.Counts.Bounces))];
    }

    [Fact]
    public async Task Diluted_NotSentThenBounces_TripsExactlyAsIfNeverSent()
    {
        // The control: 2 hard bounces in 100 sends is the 2 % line.
        List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)> undiluted = await DilutedAsync(0);
        undiluted.Should().Contain((EmailGuardDimension.Tenant, "acme", EmailRatioBreakerAction.Reduced, 100L, 2L));
        _events.Trips.Clear();

        // The attack: 100 more mails the provider drops; counted as sends, 2 in 200 would be 1 %, under the line.
        List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)> diluted = await DilutedAsync(100);

        diluted.Should().Equal(undiluted);
    }

    [Fact]
    public async Task Diluted_BouncesThenNotSent_TripsWhenTheLastDilutingSendIsOffset()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, 100, "real");
        await SendAsync(app, 100, "unsub");
        await BounceAsync(app, "real0@example.com");
        await BounceAsync(app, "real1@example.com");
        for (int i = 0; i < 99; i++)
        {
            await NotSentAsync(app, "unsub", i);
        }

        TenantTrips().Should().BeEmpty("2 in 101 sends is under the 2 % line");

        await NotSentAsync(app, "unsub", 99);

        TenantTrips().Should().Equal((EmailRatioBreakerAction.Reduced, 100L, 2L));
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3168).Should().HaveCount(100);
    }

    [Fact]
    public async Task NotSent_SameEventTwiceAndConcurrently_OffsetsOneSend()
    {
        await using FeedbackTestApp app = App();
        await SendAsync(app, 3, "m");

        // Delivered again (a retry), and many times at once.
        await NotSentAsync(app, "m", 0);
        (await app.Feedback.RecordAsync(NotSent("m", 0))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        EmailFeedbackResult[] concurrent = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(async () => await app.Feedback.RecordAsync(NotSent("m", 1)))));

        concurrent.Count(r => r.Outcome == EmailFeedbackOutcome.Recorded).Should().Be(1);
        (await SendsAsync(app)).Should().Be(1, "two of the three mails were never sent, each offset once");
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(1);
    }

    [Fact]
    public async Task NotSent_OfMailTheGuardHasNoRecordOf_LeavesEverySendAlone()
    {
        // Arrange: a rival's 10 mails, tracked; tags naming it that no key signed, a caller's attribution naming it, and
        // mail without a mapping or tags (another app's on the same account).
        using TestMeterFactory meterFactory = new();
        await using FeedbackTestApp app = App(more: s => s.AddSingleton<IMeterFactory>(meterFactory));
        using MetricCollector<long> notSent = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.FeedbackNotSentInstrument);
        await SendAsync(app, 10, "r", tenant: "rival");
        IReadOnlyDictionary<string, string> forged = EmailFeedbackTags.Write(new EmailSendAttribution { SendId = "x", TenantId = "rival", UserId = "user-42" });

        // Act: repeated mail to one unsubscribed address, under three names.
        for (int i = 0; i < 5; i++)
        {
            EmailFeedbackEvent unsigned = new() { Provider = "ses", ProviderEventId = $"u{i}", Recipient = "gone@example.com", Kind = EmailFeedbackKind.Unsubscribed, SuppressedByProvider = true, Tags = forged };
            EmailFeedbackEvent vouched = new() { Provider = "ses", ProviderEventId = $"v{i}", Recipient = "gone@example.com", Kind = EmailFeedbackKind.Unsubscribed, SuppressedByProvider = true, Attribution = new EmailSendAttribution { TenantId = "rival" } };
            EmailFeedbackEvent unknown = new() { Provider = "ses", ProviderEventId = $"x{i}", ProviderMessageId = $"<other-app-{i}@example.net>", Recipient = "gone@example.com", Kind = EmailFeedbackKind.Unsubscribed, SuppressedByProvider = true };
            foreach (EmailFeedbackEvent feedback in (EmailFeedbackEvent[])[unsigned, vouched, unknown])
            {
                (await app.Feedback.RecordAsync(feedback)).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
            }
        }

        // Assert
        (await SendsAsync(app, "rival")).Should().Be(10);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "user-42")).Sends.Should().Be(10);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(10, "mail without the guard's record may be another app's");
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3169).Should().HaveCount(15);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3168);
        notSent.GetMeasurementSnapshot().GroupBy(m => (string?)m.Tags["emailguard.outcome"]).Select(g => (g.Key, g.Count()))
            .Should().BeEquivalentTo([("unsigned_tags", 5), ("caller_attribution", 5), ("no_record", 5)]);
    }

    [Fact]
    public async Task NotSent_SignedTags_OffsetTheirParties_ForgedOnesDoNot()
    {
        // Arrange: with signing keys, the tags the guard wrote for a mail name its parties; a copy naming a rival does not verify.
        await using FeedbackTestApp app = App(o => o.TagSigningKeys.Add(s_key));
        List<EmailSendAttribution> own = await SendAsync(app, 4, "o");
        await SendAsync(app, 4, "r", tenant: "rival");
        IReadOnlyDictionary<string, string> signed = EmailFeedbackTags.Write(own[0]);
        Dictionary<string, string> forged = new(signed) { [EmailFeedbackTags.Prefix + "t"] = EmailFeedbackTags.Write(new EmailSendAttribution { TenantId = "rival" })[EmailFeedbackTags.Prefix + "t"] };

        // Act
        foreach ((string id, IReadOnlyDictionary<string, string> tags) in ((string, IReadOnlyDictionary<string, string>)[])[("s", signed), ("f", forged)])
        {
            (await app.Feedback.RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = id,
                Recipient = "o0@example.com",
                Kind = EmailFeedbackKind.Unsubscribed,
                SuppressedByProvider = true,
                Tags = tags,
            })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        // Assert
        (await SendsAsync(app)).Should().Be(3);
        (await SendsAsync(app, "rival")).Should().Be(4);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(7);
    }

    [Fact]
    public async Task Horizon_LateNotSent_IsLeftOutOfTheHorizon_NoBounceDropsOut()
    {
        // Arrange: the last 100 sends, at a 25 % line. 400 clean mails, then 80 real and 20 the provider drops; 19 of the
        // real ones bounce (19 in 100: under the line), then the drops are reported.
        await using FeedbackTestApp app = App(o =>
        {
            o.CountLastSends = 100;
            o.CountLastSendsWithin = TimeSpan.FromDays(30);
        }, reduce: 0.25);
        await SendAsync(app, 400, "clean");
        await SendAsync(app, 80, "real");
        await SendAsync(app, 20, "unsub");
        for (int i = 0; i < 19; i++)
        {
            await BounceAsync(app, $"real{i}@example.com");
        }

        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Should().BeEquivalentTo(new { LastSends = 100L, LastSendsBounces = 19L });

        // Act
        for (int i = 0; i < 20; i++)
        {
            await NotSentAsync(app, "unsub", i);
        }

        EmailFeedbackCounts after = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        await BounceAsync(app, "real19@example.com");

        // Assert: the time window leaves the 20 out (480 of 500); the horizon is as it was, its 19 bounces all in it. A
        // not-sent is not counted there: it would go to the bucket of the party's latest send, not of the mail's, and a
        // late one took off sends the horizon no longer held (a review: a rogue's 20 dropped mails shrank the last 100
        // sends of the account and the sender it shares with a rival to 80, though all 100 were really sent). Before
        // that, the take-back of h175 lowered the sequence and dropped 19 bounces out of it.
        after.Should().BeEquivalentTo(new { Sends = 480L, LastSends = 100L, LastSendsBounces = 19L });
        TenantTrips().Should().BeEmpty("20 in the last 100 is under the 25 % line");
    }

    [Fact]
    public async Task HalfOpen_ProbeMailNotSent_LeftOutOfTheProbe_TripsAgain()
    {
        // Arrange: tripped on 2 in 100, half-open; the probe sends 60, one bounces: 1 in 60 is under the 2 % line.
        await using FeedbackTestApp app = App();
        await SendAsync(app, 100, "a");
        await BounceAsync(app, "a0@example.com");
        await BounceAsync(app, "a1@example.com");
        app.Time.Advance(TimeSpan.FromHours(6) + TimeSpan.FromSeconds(1));
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
        await SendAsync(app, 60, "p");
        await BounceAsync(app, "p0@example.com");
        TenantTrips().Should().ContainSingle();

        // Act: 10 mails sent before the phase were never sent: not the probe's. Then 10 of the probe's.
        for (int i = 2; i < 12; i++)
        {
            await NotSentAsync(app, "a", i);
        }

        TenantTrips().Should().ContainSingle("the probe's own 60 sends stay counted");
        for (int i = 1; i <= 10; i++)
        {
            await NotSentAsync(app, "p", i);
        }

        // Assert: 1 in the probe's 50 real sends is on the line: tripped again, as if they had never been sent.
        _events.Trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Level, t.Counts.Sends, t.Counts.Bounces))
            .Should().Equal((1, 100L, 2L), (2, 50L, 1L));
    }
}
