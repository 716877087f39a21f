using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// A trip an operator clears before its end (the dashboard's Clear on the trip's flag, or
/// <see cref="IEmailGuardFlags.ClearAsync"/> with its reason) leaves the half-open flag, whose phase was written to begin
/// at the trip's planned end: the party is half-open from the clear, and its probe must judge the mail it sends from then
/// on, not leave it out as mail sent "before the phase".
/// </summary>
public sealed class RatioBreakerEarlyClearTests
{
    private static readonly TimeSpan TripFor = TimeSpan.FromHours(6);
    private static readonly TimeSpan HalfOpenFor = TimeSpan.FromHours(2);

    private readonly BreakerEventLog _events = new();

    private FeedbackTestApp App() => new(
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(10_000)),
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

    private static readonly EmailSendAttribution Tenant = new() { TenantId = "acme" };

    private static EmailFeedbackEvent Bounce(string id, string? messageId = null, EmailSendAttribution? attribution = null) => new()
    {
        Provider = "ses",
        ProviderEventId = id,
        ProviderMessageId = messageId,
        Recipient = id + "@example.com",
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Permanent,
        Attribution = attribution,
    };

    /// <summary>100 sends and 2 bounces trip the tenant (reduced, level 1); an hour into the trip the operator clears the trip's flag.</summary>
    private async Task<DateTimeOffset> TrippedThenClearedAsync(FeedbackTestApp app)
    {
        for (int i = 0; i < 100; i++)
        {
            (await app.CheckAsync($"a{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        await app.Feedback.RecordAsync(Bounce("t1", attribution: Tenant));
        await app.Feedback.RecordAsync(Bounce("t2", attribution: Tenant));
        _events.Trips.Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 1));
        DateTimeOffset plannedEnd = _events.Trips[0].ExpiresAt;
        await AdvanceAsync(app, TimeSpan.FromHours(1));
        (await app.Services.GetRequiredService<IEmailGuardFlags>().ClearAsync(
            EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.HighBounceRate, comment: "the customer says the list is clean")).Should().Be(1);
        (await app.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme"))
            .Select(f => f.Reason).Should().Equal(EmailGuardFlagReasons.HighBounceRateHalfOpen);
        return plannedEnd;
    }

    private static async Task AdvanceAsync(FeedbackTestApp app, TimeSpan by)
    {
        app.Time.Advance(by);
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
    }

    private static async Task SendProbeMailAsync(FeedbackTestApp app, int count, string prefix)
    {
        for (int i = 0; i < count; i++)
        {
            (await app.CheckAsync($"{prefix}{i}@example.com")).IsAllowed.Should().BeTrue();
            await app.Feedback.TrackForProviderAsync("ses", $"<{prefix}{i}@app.example>", Tenant);
        }
    }

    [Fact]
    public async Task Attack_TripClearedEarly_BouncesOfMailSentAfterTheClear_CountInTheProbe_TripsAgain()
    {
        // Arrange: the rogue talks support into clearing its trip, and sends from the clear on (half-open limits).
        await using FeedbackTestApp app = App();
        await TrippedThenClearedAsync(app);
        await SendProbeMailAsync(app, 20, "probe");

        // Act: a bounce of that mail, dated by its mapping after the clear but hours before the trip's planned end.
        await app.Feedback.RecordAsync(Bounce("probe-bounce", messageId: "<probe0@app.example>"));

        // Assert: 1 over the probe's minimum of 50 is its 2 % line: the probe fails, and the tenant trips again.
        _events.Trips.Skip(1).Select(t => (t.Dimension, t.Level)).Should().Equal(
            [(EmailGuardDimension.Tenant, 2)], "the mail was sent in the half-open phase that the clear began, not before it");
    }

    [Fact]
    public async Task Attack_TripClearedEarly_BouncesOfThatMailArrivingAfterThePlannedEnd_StillCountInTheProbe_TripsAgain()
    {
        // Arrange: the rogue sends 100 mails after the clear, so one bounce (1 %) leaves the probe under its 2 % line.
        await using FeedbackTestApp app = App();
        DateTimeOffset plannedEnd = await TrippedThenClearedAsync(app);
        await SendProbeMailAsync(app, 100, "probe");
        await app.Feedback.RecordAsync(Bounce("first", messageId: "<probe0@app.example>"));
        _events.Trips.Should().HaveCount(1, "1 bounce in 100 probe sends is under the line");

        // Act: the trip's planned end passes; the bounces of the same mail come late (an asynchronous bounce, a soft bounce
        // the provider retried until it turned hard).
        await AdvanceAsync(app, plannedEnd - app.Time.GetUtcNow() + TimeSpan.FromMinutes(10));
        await app.Feedback.RecordAsync(Bounce("late-1", messageId: "<probe1@app.example>"));
        await app.Feedback.RecordAsync(Bounce("late-2", messageId: "<probe2@app.example>"));

        // Assert: 3 in 100 is over the 2 % line.
        _events.Trips.Skip(1).Select(t => (t.Dimension, t.Level)).Should().Equal(
            [(EmailGuardDimension.Tenant, 2)], "mail sent after the clear is the probe's, whenever its bounce comes back");
    }

    [Fact]
    public async Task Attack_TripClearedEarly_EveryBounceComesAfterThePlannedEnd_TheInstancesRememberedTheEarlyPhase_TripsAgain()
    {
        // Arrange: no bounce comes back before the trip's planned end, so no judgement sees the early phase: the instance
        // that follows the half-open flag saw it in its state (the clear refreshes it) and remembered it.
        await using FeedbackTestApp app = App();
        DateTimeOffset plannedEnd = await TrippedThenClearedAsync(app);
        await SendProbeMailAsync(app, 100, "probe");

        // Act
        await AdvanceAsync(app, plannedEnd - app.Time.GetUtcNow() + TimeSpan.FromMinutes(10));
        await app.Feedback.RecordAsync(Bounce("late-1", messageId: "<probe1@app.example>"));
        await app.Feedback.RecordAsync(Bounce("late-2", messageId: "<probe2@app.example>"));

        // Assert: 2 in 100 is the 2 % line.
        _events.Trips.Skip(1).Select(t => (t.Dimension, t.Level)).Should().Equal([(EmailGuardDimension.Tenant, 2)]);
    }

    [Fact]
    public async Task TripClearedEarly_BounceOfMailSentBeforeTheTrip_StillCountsInTheWindowNotTheProbe()
    {
        // Guard: the early clear moves the phase's start back to the trip, not further: mail sent before the trip is still
        // not the probe's (dated by its mapping, tracked a day before).
        await using FeedbackTestApp app = App();
        await app.Feedback.TrackForProviderAsync("ses", "<yesterday@app.example>", Tenant);
        await AdvanceAsync(app, TimeSpan.FromDays(1));
        await TrippedThenClearedAsync(app);
        await SendProbeMailAsync(app, 20, "probe");

        await app.Feedback.RecordAsync(Bounce("old", messageId: "<yesterday@app.example>"));
        await AdvanceAsync(app, TripFor + HalfOpenFor);

        _events.Trips.Should().HaveCount(1);
        _events.Recoveries.Select(r => (r.Dimension, r.ProbeFailures)).Should().Equal((EmailGuardDimension.Tenant, 0L));
    }
}
