using System.Globalization;
using EmailGuard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// A half-open pool's probe judges only the mail its tenants sent in the phase, on every store: the bounces of the
/// trial mail sent before the trip, dated by the message-id mapping or by the provider, count in the pool's window and not
/// in its probe; a probe mail sent under the message id of an old one is dated by its own send.
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    [Fact]
    public async Task TrialPool_HalfOpen_BouncesOfMailSentBeforeThePhase_CountInTheWindowNotTheProbe_Recovers()
    {
        // Arrange: 1,000 trial mails, 60 of them tracked by message id at their send; 40 bounces suspend the pool.
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        IEmailGuardFeedback tracking = checks.GetRequiredService<IEmailGuardFeedback>();
        foreach (EmailSendAttribution mail in trial.Skip(40).Take(60))
        {
            await tracking.TrackForProviderAsync("ses", MessageId(mail), mail);
        }

        await BounceAsync(feedback, trial.Take(40));
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(checks);
        List<EmailSendAttribution> probe = await SendProbeAsync(checks, 60);

        // Act: the old mail's bounces come back in the phase, 30 by the mapping alone, 30 dated by the provider
        // (SentAt an hour before the trip), and one bounce of the probe's own mail (1 in 60, under the 2 % line).
        IEmailGuardFeedback recording = feedback.GetRequiredService<IEmailGuardFeedback>();
        foreach (EmailSendAttribution mail in trial.Skip(40).Take(30))
        {
            (await recording.RecordAsync(Bounce(mail, messageId: MessageId(mail), attribution: null))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        foreach (EmailSendAttribution mail in trial.Skip(100).Take(30))
        {
            (await recording.RecordAsync(Bounce(mail, sentAt: Start - TimeSpan.FromHours(1)))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        await BounceAsync(feedback, probe.Take(1));
        EmailPartyRatioStatus halfOpen = (await checks.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-0" })).Ratios[^1];
        await AdvanceAsync(HalfOpenFor);

        // Assert: no trip again; the window holds all 101 bounces; the probe recovers over its own one.
        Trips.Where(t => t.TenantPool is not null).Should().HaveCount(2, "60 bounces of mail sent before the phase are not the probe's");
        halfOpen.BreakerState.Should().Be(EmailRatioBreakerState.HalfOpen);
        halfOpen.Counts.Bounces.Should().Be(101, "the old mail's bounces still count in the pool's window");
        Recoveries.Where(r => r.TenantPool is not null).Should().ContainSingle().Which.Should().BeEquivalentTo(
            new { TenantPool = "trial", ProbeSends = 60L, ProbeFailures = 1L, Level = 1 }, o => o.ExcludingMissingMembers());
    }

    [Fact]
    public async Task Attack_TrialPool_HalfOpen_ProbeMailSentUnderAnOldMailsMessageId_CountsInTheProbe_TripsAgain()
    {
        // Arrange: a trial mail tracked under a Message-ID its sender chose, before the trip.
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        IEmailGuardFeedback tracking = checks.GetRequiredService<IEmailGuardFeedback>();
        const string Reused = "<reused@trial.example>";
        await tracking.TrackForProviderAsync("mailgun", Reused, trial[0]);
        await BounceAsync(feedback, trial.Take(40));
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(checks);

        // Act: half-open, the same tenant sends a probe mail under the old mail's Message-ID, and it bounces.
        List<EmailSendAttribution> probe = await SendProbeAsync(checks, 20);
        EmailSendDecision again = await CheckAsync(checks, Tenant(0), "reused");
        again.IsAllowed.Should().BeTrue();
        await tracking.TrackForProviderAsync("mailgun", Reused, again.Attribution!);
        (await feedback.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "mailgun",
            ProviderEventId = "reused-bounce",
            ProviderMessageId = Reused,
            Recipient = "reused@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        })).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        // Assert: the mapping is dated by the probe mail's send, so its bounce is the probe's: 1 over 50 is the 2 % line.
        probe.Should().HaveCount(20);
        Trips.Where(t => t.TenantPool is not null).Select(t => (t.Action, t.Level)).Should().Equal(
            (EmailRatioBreakerAction.Reduced, 1), (EmailRatioBreakerAction.Suspended, 1), (EmailRatioBreakerAction.Reduced, 2));
    }

    private static string MessageId(EmailSendAttribution mail) => "<" + mail.SendId + "@trial.example>";

    private static EmailFeedbackEvent Bounce(EmailSendAttribution mail, string? messageId = null, DateTimeOffset? sentAt = null, EmailSendAttribution? attribution = null) => new()
    {
        Provider = "ses",
        ProviderEventId = "old-" + mail.SendId,
        ProviderMessageId = messageId,
        Recipient = "old-" + mail.SendId + "@example.com",
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Permanent,
        SentAt = sentAt,
        Attribution = messageId is null ? mail : attribution,
    };

    /// <summary>One half-open probe mail for each of the first <paramref name="count"/> trial tenants, all admitted.</summary>
    private static async Task<List<EmailSendAttribution>> SendProbeAsync(IServiceProvider checks, int count)
    {
        List<EmailSendAttribution> probe = [];
        for (int i = 0; i < count; i++)
        {
            EmailSendDecision decision = await CheckAsync(checks, Tenant(i), "probe" + i.ToString(CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue($"half-open at a tenth of 5,000 an hour: {decision.Reason} {decision.Partition}");
            probe.Add(decision.Attribution!);
        }

        return probe;
    }
}
