using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// A half-open probe judges only the mail sent in its phase: a bounce or complaint of mail sent before it (dated by the
/// message-id mapping or by the provider) counts in the tenant's and user's window, not in their probes. And what a bot
/// half-open cannot do to make its own probe's failures look old.
/// </summary>
public sealed class RatioBreakerSendTimeTests
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
            o.ComplaintRateToReduce = 0.02;
            o.ComplaintRateToSuspend = 0.04;
            o.AccountComplaintRateToTighten = 0.5;
            o.AccountComplaintRateToRelease = 0.4;
            o.TripFor = TripFor;
            o.HalfOpenFor = HalfOpenFor;
            o.HalfOpenMinimumSends = 50;
            o.NetworkBouncesToBan = 0;
            _events.Hook(o);
        }));

    private static EmailSendAttribution Attribution(string tenant = "acme")
        => new() { TenantId = tenant, UserId = "user-42", Sender = "noreply@app.example", Category = "signup", ClientNetwork = "203.0.113.7/32" };

    private static EmailFeedbackEvent Failure(
        string id, EmailFeedbackKind kind, DateTimeOffset? sentAt = null, string? messageId = null, EmailSendAttribution? attribution = null, string provider = "ses") => new()
        {
            Provider = provider,
            ProviderEventId = id,
            ProviderMessageId = messageId,
            Recipient = id + "@example.com",
            Kind = kind,
            BounceType = kind == EmailFeedbackKind.Bounced ? EmailBounceType.Permanent : EmailBounceType.None,
            SentAt = sentAt,
            Attribution = attribution,
        };

    /// <summary>100 sends and 2 failures trip the tenant and the user (reduced); then the trip ends and both are half-open with a probe of 20 sends. Returns when the phase began.</summary>
    private async Task<DateTimeOffset> HalfOpenAsync(FeedbackTestApp app, EmailFeedbackKind kind)
    {
        for (int i = 0; i < 100; i++)
        {
            (await app.CheckAsync($"a{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        await app.Feedback.RecordAsync(Failure("t1", kind, attribution: Attribution()));
        await app.Feedback.RecordAsync(Failure("t2", kind, attribution: Attribution()));
        _events.Trips.Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 1), (EmailGuardDimension.User, 1));
        DateTimeOffset phaseStart = _events.Trips[0].ExpiresAt;
        await AdvanceAsync(app, TripFor + TimeSpan.FromSeconds(1));
        for (int i = 0; i < 20; i++)
        {
            (await app.CheckAsync($"probe{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        return phaseStart;
    }

    private static async Task AdvanceAsync(FeedbackTestApp app, TimeSpan by)
    {
        app.Time.Advance(by);
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
    }

    private static async Task<EmailFeedbackCounts> TenantWindowAsync(FeedbackTestApp app)
        => (await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" })).Ratios.Single(r => r.Counts.Dimension == EmailGuardDimension.Tenant).Counts;

    [Theory]
    [InlineData(EmailFeedbackKind.Bounced)]
    [InlineData(EmailFeedbackKind.Complained)]
    public async Task HalfOpen_FailuresOfMailSentBeforeThePhase_CountInTheWindowNotTheProbe_TenantAndUserRecover(EmailFeedbackKind kind)
    {
        // Arrange: a message tracked before the trip, one in the middle of it.
        await using FeedbackTestApp app = App();
        await app.Feedback.TrackForProviderAsync("ses", "<before@app.example>", Attribution());
        DateTimeOffset tripped = app.Time.GetUtcNow();
        DateTimeOffset phaseStart = await HalfOpenAsync(app, kind);

        // Act: in the phase come a failure of the tracked mail (no tags: the mapping attributes and dates it), and four
        // the provider dates (SentAt) before the phase: before the trip, in it, and just outside the clock-skew margin.
        await app.Feedback.RecordAsync(Failure("old-1", kind, messageId: "<before@app.example>"));
        await app.Feedback.RecordAsync(Failure("old-2", kind, sentAt: tripped - TimeSpan.FromDays(1), attribution: Attribution()));
        await app.Feedback.RecordAsync(Failure("old-3", kind, sentAt: tripped + TimeSpan.FromHours(3), attribution: Attribution()));
        await app.Feedback.RecordAsync(Failure("old-4", kind, sentAt: phaseStart - RatioBreaker.SendTimeSkew - TimeSpan.FromSeconds(1), attribution: Attribution()));
        EmailFeedbackCounts window = await TenantWindowAsync(app);
        await AdvanceAsync(app, HalfOpenFor);

        // Assert: each of the four would have been the probe's 2 % line (1 over 50); none counts there, all in the window.
        _events.Trips.Should().HaveCount(2, "no failure of mail sent before the phase trips the probe again");
        (kind == EmailFeedbackKind.Bounced ? window.Bounces : window.Complaints).Should().Be(6);
        _events.Recoveries.Select(r => (r.Dimension, r.ProbeSends, r.ProbeFailures)).Should().BeEquivalentTo(
            [(EmailGuardDimension.Tenant, 20L, 0L), (EmailGuardDimension.User, 20L, 0L)]);
        app.Logs.GetSnapshot().Count(r => r.Id.Id == 3094).Should().Be(8, "4 failures, each for the tenant and the user");
    }

    [Theory]
    [InlineData(EmailFeedbackKind.Bounced)]
    [InlineData(EmailFeedbackKind.Complained)]
    public async Task HalfOpen_FailureOfMailSentWithinTheSkewMarginOfThePhase_CountsInTheProbe_TripsAgain(EmailFeedbackKind kind)
    {
        await using FeedbackTestApp app = App();
        DateTimeOffset phaseStart = await HalfOpenAsync(app, kind);

        await app.Feedback.RecordAsync(Failure("near", kind, sentAt: phaseStart - RatioBreaker.SendTimeSkew + TimeSpan.FromSeconds(1), attribution: Attribution()));

        _events.Trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal(
            [(EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2)], "a send near the phase's start may be the probe's own: the margin counts it");
    }

    [Fact]
    public async Task HalfOpen_BounceOfMailTrackedInThePhase_CountsInTheProbe_TripsAgain()
    {
        await using FeedbackTestApp app = App();
        await app.Feedback.TrackForProviderAsync("ses", "<before@app.example>", Attribution());
        await HalfOpenAsync(app, EmailFeedbackKind.Bounced);
        await app.Feedback.TrackForProviderAsync("ses", "<probe@app.example>", Attribution());

        await app.Feedback.RecordAsync(Failure("old", EmailFeedbackKind.Bounced, messageId: "<before@app.example>"));
        _events.Trips.Should().HaveCount(2);
        await app.Feedback.RecordAsync(Failure("new", EmailFeedbackKind.Bounced, messageId: "<probe@app.example>"));

        _events.Trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2));
    }

    [Fact]
    public async Task Attack_ProbeMailTrackedInThePhase_EventClaimsAnOldSendTime_TheMappingWins_TripsAgain()
    {
        // An app that passes a sender-controlled time into SentAt (a custom provider reading a tag): the guard's own
        // time of tracking wins.
        await using FeedbackTestApp app = App();
        DateTimeOffset phaseStart = await HalfOpenAsync(app, EmailFeedbackKind.Bounced);
        await app.Feedback.TrackForProviderAsync("ses", "<probe@app.example>", Attribution());

        await app.Feedback.RecordAsync(Failure(
            "forged", EmailFeedbackKind.Bounced, sentAt: phaseStart - TimeSpan.FromDays(1), messageId: "<probe@app.example>", attribution: Attribution()));

        _events.Trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2));
    }

    [Fact]
    public async Task Attack_ProbeMailSentUnderTheMessageIdOfAMailSentBeforeTheTrip_IsDatedByItsOwnSend_TripsAgain()
    {
        // A bot sets the Message-ID that Mailgun takes for its id: its probe mail reuses the id of a mail before the trip.
        await using FeedbackTestApp app = App();
        await app.Feedback.TrackForProviderAsync("mailgun", "<reused@bot.example>", Attribution());
        await HalfOpenAsync(app, EmailFeedbackKind.Bounced);
        await app.Feedback.TrackForProviderAsync("mailgun", "<reused@bot.example>", Attribution());

        await app.Feedback.RecordAsync(Failure("probe-bounce", EmailFeedbackKind.Bounced, messageId: "<reused@bot.example>", provider: "mailgun"));

        _events.Trips.Skip(2).Select(t => (t.Dimension, t.Level)).Should().Equal((EmailGuardDimension.Tenant, 2), (EmailGuardDimension.User, 2));
    }

    [Fact]
    public async Task Attack_ProbeMailUnderAMessageIdAThrowawayTenantUsedBeforeTheTrip_TheSharedMappingIsUndated_TripsAgain()
    {
        // The id was first tracked for another tenant before the trip: the probe mail's send marks it shared, which
        // attributes by the event's own tags and dates nothing, so the bounce counts in the probe.
        await using FeedbackTestApp app = App();
        await app.Feedback.TrackForProviderAsync("mailgun", "<reused@bot.example>", Attribution("throwaway"));
        await HalfOpenAsync(app, EmailFeedbackKind.Bounced);
        await app.Feedback.TrackForProviderAsync("mailgun", "<reused@bot.example>", Attribution());

        await app.Feedback.RecordAsync(Failure("probe-bounce", EmailFeedbackKind.Bounced, messageId: "<reused@bot.example>", attribution: Attribution(), provider: "mailgun"));

        _events.Trips.Skip(2).Select(t => (t.Dimension, t.Partition, t.Level)).Should().Equal(
            (EmailGuardDimension.Tenant, "acme", 2), (EmailGuardDimension.User, "user-42", 2));
    }

    [Fact]
    public async Task HalfOpenFlagOfAnEarlierVersion_WithoutItsStart_ThePhaseBeginsAtItsEndLessHalfOpenFor()
    {
        // An earlier version wrote the half-open flag at the trip with the probe and the level, but not when its phase began.
        await using FeedbackTestApp app = App();
        DateTimeOffset tripped = app.Time.GetUtcNow();
        await app.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(
            EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.HighBounceRateHalfOpen, TripFor + HalfOpenFor, EmailRatioBreakerOptions.FlaggedBy,
            new Dictionary<string, string> { ["probe"] = "earlierBuildProbe", ["level"] = "1" });
        await AdvanceAsync(app, TripFor + TimeSpan.FromSeconds(1));
        EmailSendAttribution tenant = new() { TenantId = "acme" };

        await app.Feedback.RecordAsync(Failure("in-the-trip", EmailFeedbackKind.Bounced, sentAt: tripped + TimeSpan.FromHours(1), attribution: tenant));
        _events.Trips.Should().BeEmpty("sent an hour into the trip, before the phase began at the flag's end less HalfOpenFor");
        await app.Feedback.RecordAsync(Failure("near-the-start", EmailFeedbackKind.Bounced, sentAt: tripped + TripFor - TimeSpan.FromMinutes(1), attribution: tenant));

        _events.Trips.Select(t => (t.Dimension, t.Partition)).Should().Equal((EmailGuardDimension.Tenant, "acme"));
    }

    [Fact]
    public void Mapping_DatedByTheGuard_AnIdCannotSpellTheTime_AnOlderBuildsMappingIsUndated()
    {
        DateTimeOffset at = new(2026, 12, 7, 1, 2, 3, 400, TimeSpan.Zero);
        string mapping = FeedbackKeys.Serialize(new EmailSendAttribution { TenantId = "x&sent=0", UserId = "sent=0" }, at);

        FeedbackKeys.TrackedAt(mapping).Should().Be(new DateTimeOffset(2026, 12, 7, 1, 2, 4, TimeSpan.Zero), "rounded up, to the side of the probe");
        FeedbackKeys.Deserialize(mapping).Should().BeEquivalentTo(new EmailSendAttribution { TenantId = "x&sent=0", UserId = "sent=0" });
        FeedbackKeys.TrackedAt(FeedbackKeys.Serialize(new EmailSendAttribution { TenantId = "acme" })).Should().BeNull();
        FeedbackKeys.TrackedAt(FeedbackKeys.Shared).Should().BeNull();
        FeedbackKeys.TrackedAt("eg_t=YWNtZQ&sent=-5").Should().BeNull();
        FeedbackKeys.TrackedAt("eg_t=YWNtZQ&sent=99999999999999999999").Should().BeNull();
    }
}
