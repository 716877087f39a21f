using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Breakers;

/// <summary>
/// A provider that delivers one bounce twice (a retry after a timeout, a second topic) during a half-open phase: the
/// probe counts it once, since the probe's failure is counted only after the event's deduplicated recording.
/// </summary>
public sealed class RatioBreakerProbeDuplicateTests
{
    private readonly BreakerEventLog _events = new();

    private FeedbackTestApp App() => new(
        guard: o => o.Tenant.Add(RateLimitRule.PerHour(10_000)),
        more: s => s.Configure<EmailRatioBreakerOptions>(o =>
        {
            o.MinimumSends = 20;
            o.TripFor = TimeSpan.FromHours(6);
            o.HalfOpenFor = TimeSpan.FromHours(2);
            o.HalfOpenMinimumSends = 50;
            o.NetworkBouncesToBan = 0;
            _events.Hook(o);
        }));

    private static EmailFeedbackEvent Bounce(string id) => new()
    {
        Provider = "ses",
        ProviderEventId = id,
        Recipient = id + "@example.com",
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Permanent,
        Attribution = new EmailSendAttribution { TenantId = "acme" },
    };

    private static async Task AdvanceAsync(FeedbackTestApp app, TimeSpan by)
    {
        app.Time.Advance(by);
        await app.Services.GetRequiredService<EmailGuardFeedback>().Breakers!.WhenIdleAsync();
    }

    [Fact]
    public async Task Attack_HalfOpen_OneBounceDeliveredThreeTimes_CountsOnceInTheProbe_Recovers()
    {
        // Arrange: tripped by 2 bounces in 100; half-open, 100 probe sends.
        await using FeedbackTestApp app = App();
        for (int i = 0; i < 100; i++)
        {
            (await app.CheckAsync($"a{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        await app.Feedback.RecordAsync(Bounce("t1"));
        await app.Feedback.RecordAsync(Bounce("t2"));
        _events.Trips.Should().ContainSingle();
        await AdvanceAsync(app, TimeSpan.FromHours(6) + TimeSpan.FromSeconds(1));
        for (int i = 0; i < 100; i++)
        {
            (await app.CheckAsync($"probe{i}@example.com")).IsAllowed.Should().BeTrue();
        }

        // Act: one probe bounce, delivered three times.
        (await app.Feedback.RecordAsync(Bounce("p1"))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        (await app.Feedback.RecordAsync(Bounce("p1"))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await app.Feedback.RecordAsync(Bounce("p1"))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        await AdvanceAsync(app, TimeSpan.FromHours(2));

        // Assert: 1 in 100 is under the 2 % line; counted three times it would have been over it.
        _events.Trips.Should().ContainSingle();
        _events.Recoveries.Select(r => (r.Dimension, r.ProbeSends, r.ProbeFailures)).Should().Equal((EmailGuardDimension.Tenant, 100L, 1L));
    }
}
