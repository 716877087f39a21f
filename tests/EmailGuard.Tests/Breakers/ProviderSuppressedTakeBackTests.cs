using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// Mail the provider never sent (the address is on its suppression list) was counted as a send when the guard admitted
/// it; the event takes that send back. The attack it stops: a tenant dilutes its bounce ratio with mail, without a
/// category, to addresses the provider has unsubscribed (suppressing nothing here), each a send that never bounces.
/// </summary>
public sealed class ProviderSuppressedTakeBackTests
{
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);

    private readonly BreakerEventLog _events = new();

    private FeedbackTestApp App() => new(
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(1_000)),
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 20;
            o.BounceRateToReduce = 0.02;
            o.BounceRateToSuspend = 0.04;
            o.TripFor = TripFor;
            o.HalfOpenFor = HalfOpenFor;
            o.HalfOpenMinimumSends = 50;
            o.NetworkBouncesToBan = 0;
            _events.Hook(o);
        }));

    /// <summary>Sends <paramref name="count"/> mails without a category, all admitted; returns their attributions.</summary>
    private static async Task<List<EmailSendAttribution>> SendAsync(FeedbackTestApp app, int count, string prefix)
    {
        List<EmailSendAttribution> sent = [];
        for (int i = 0; i < count; i++)
        {
            EmailSendDecision decision = await app.CheckAsync($"{prefix}{i}@example.com", category: null);
            decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Dimension}");
            sent.Add(decision.Attribution!);
        }

        return sent;
    }

    private static EmailFeedbackEvent Suppressed(EmailSendAttribution attribution, string recipient, string id, DateTimeOffset? sentAt = null) => new()
    {
        Provider = "ses",
        ProviderEventId = id,
        Recipient = recipient,
        Kind = EmailFeedbackKind.Unsubscribed,
        SuppressedByProvider = true,
        SentAt = sentAt,
        Attribution = attribution,
    };

    private static async Task SuppressedAsync(FeedbackTestApp app, EmailSendAttribution attribution, string recipient, string id, DateTimeOffset? sentAt = null)
        => (await app.Feedback.RecordAsync(Suppressed(attribution, recipient, id, sentAt))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

    private static EmailSendAttribution Copy(EmailSendAttribution of, string? sendId, string tenantId, string userId) => new()
    {
        SendId = sendId,
        TenantId = tenantId,
        UserId = userId,
        Sender = of.Sender,
        ClientNetwork = of.ClientNetwork,
    };

    private static async Task BounceAsync(FeedbackTestApp app, EmailSendAttribution attribution, string recipient)
        => (await app.Feedback.RecordAsync(FeedbackTestApp.Event("b-" + recipient, recipient: recipient, attribution: attribution))).Outcome
            .Should().Be(EmailFeedbackOutcome.Recorded);

    private async Task<List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)>> DilutedAsync(int suppressed, bool bouncesFirst)
    {
        await using FeedbackTestApp app = App();
        List<EmailSendAttribution> real = await SendAsync(app, 100, "real");
        List<EmailSendAttribution> unsubscribed = await SendAsync(app, suppressed, "unsub");
        if (bouncesFirst)
        {
            await BounceAsync(app, real[0], "real0@example.com");
            await BounceAsync(app, real[1], "real1@example.com");
        }

        for (int i = 0; i < suppressed; i++)
        {
            await SuppressedAsync(app, unsubscribed[i], $"unsub{i}@example.com", $"u{i}");
        }

        if (!bouncesFirst)
        {
            await BounceAsync(app, real[0], "real0@example.com");
            await BounceAsync(app, real[1], "real1@example.com");
        }

        foreach (EmailFeedbackCounts counts in await app.Counts.GetStatusAsync(new EmailGuardStatusQuery
        {
            TenantId = "acme",
            UserId = "user-42",
            Sender = "noreply@app.example",
            ClientIp = System.Net.IPAddress.Parse("203.0.113.7"),
        }))
        {
            counts.Sends.Should().Be(100, $"the {counts.Dimension}'s {suppressed} mails the provider never sent are no sends");
        }

        app.Logs.GetSnapshot().Where(r => r.Id.Id == 1707).Should().HaveCount(suppressed, "an unsubscribe without a category suppresses nothing");
        return [.. _events.Trips.Select(t => (t.Dimension, t.Partition, t.Action, t.Counts.Sends, t.Counts.Bounces))];
    }

    [Fact]
    public async Task SuppressedThenBounces_TripsExactlyAsIfTheSuppressedMailWasNeverSent()
    {
        // The control: 2 hard bounces in 100 sends is the 2 % line.
        List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)> undiluted = await DilutedAsync(0, bouncesFirst: false);
        undiluted.Should().Contain((EmailGuardDimension.Tenant, "acme", EmailRatioBreakerAction.Reduced, 100L, 2L));
        _events.Trips.Clear();

        // The attack: 100 more mails the provider drops; counted, 2 in 200 would be 1 %, under the line.
        List<(EmailGuardDimension, string?, EmailRatioBreakerAction, long, long)> diluted = await DilutedAsync(100, bouncesFirst: false);

        diluted.Should().Equal(undiluted);
    }

    [Fact]
    public async Task BouncesThenSuppressed_TripsWhenTheLastSendIsTakenBack()
    {
        await using FeedbackTestApp app = App();
        List<EmailSendAttribution> real = await SendAsync(app, 100, "real");
        List<EmailSendAttribution> unsubscribed = await SendAsync(app, 100, "unsub");
        await BounceAsync(app, real[0], "real0@example.com");
        await BounceAsync(app, real[1], "real1@example.com");
        for (int i = 0; i < 99; i++)
        {
            await SuppressedAsync(app, unsubscribed[i], $"unsub{i}@example.com", $"u{i}");
        }

        _events.Trips.Should().BeEmpty("2 in 101 sends is under the 2 % line");

        await SuppressedAsync(app, unsubscribed[99], "unsub99@example.com", "u99");

        _events.Trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Action, t.Counts.Sends, t.Counts.Bounces))
            .Should().Equal((EmailRatioBreakerAction.Reduced, 100L, 2L));
    }

    [Fact]
    public async Task ReplayedOrRepeated_TakesOneSendBackPerMail_NeverBelowZero()
    {
        await using FeedbackTestApp app = App();
        List<EmailSendAttribution> sent = await SendAsync(app, 2, "m");

        // The same mail under three event ids, and the first again: one send back.
        await SuppressedAsync(app, sent[0], "m0@example.com", "e1");
        await SuppressedAsync(app, sent[0], "m0@example.com", "e2");
        await SuppressedAsync(app, sent[0], "M0@Example.com", "e3");
        (await app.Feedback.RecordAsync(Suppressed(sent[0], "m0@example.com", "e1"))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(1);

        // A party that sent nothing: nothing to take back, and no count below zero.
        EmailSendAttribution stranger = Copy(sent[1], sent[1].SendId, "stranger", "nobody");
        await SuppressedAsync(app, stranger, "m1@example.com", "e4");
        await SuppressedAsync(app, stranger, "x@example.com", "e5");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "stranger")).Sends.Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(0, "all mail counted 2 sends, and 2 were taken back");

        // Named by neither a message id nor a send id, a mail cannot be told from another: nothing is taken back.
        List<EmailSendAttribution> more = await SendAsync(app, 1, "n");
        await SuppressedAsync(app, Copy(more[0], sendId: null, "acme", "user-42"), "n0@example.com", "e6");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(2);
        app.Logs.GetSnapshot().Select(r => r.Id.Id).Where(id => id is >= 3158 and <= 3161).Should().Equal(3158, 3160, 3160, 3158, 3158, 3161);
    }

    [Fact]
    public async Task HalfOpen_SuppressedProbeMail_TakenOffTheProbe_TripsAgain()
    {
        // Arrange: tripped on 2 in 100, half-open; the probe sends 60, one bounces: 1 in 60 is under the 2 % line.
        await using FeedbackTestApp app = App();
        List<EmailSendAttribution> sent = await SendAsync(app, 100, "a");
        await BounceAsync(app, sent[0], "a0@example.com");
        await BounceAsync(app, sent[1], "a1@example.com");
        app.Time.Advance(TripFor + TimeSpan.FromSeconds(1));
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
        List<EmailSendAttribution> probe = await SendAsync(app, 60, "p");
        await BounceAsync(app, probe[0], "p0@example.com");
        _events.Trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Should().ContainSingle();

        // Act: 10 of the probe's mails were never sent, half dated by the provider, half not.
        for (int i = 1; i <= 10; i++)
        {
            await SuppressedAsync(app, probe[i], $"p{i}@example.com", $"u{i}", i % 2 == 0 ? app.Time.GetUtcNow() : null);
        }

        // Assert: 1 in the probe's 50 real sends is the line: tripped again, as if they had never been sent.
        _events.Trips.Where(t => t.Dimension == EmailGuardDimension.Tenant).Select(t => (t.Level, t.Counts.Sends, t.Counts.Bounces))
            .Should().Equal((1, 100L, 2L), (2, 50L, 1L));
    }
}
