using EmailGuard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// A pool's trip cleared before its end, on every store: the pool is half-open from the clear, and the bounces of the
/// mail its tenants send from then on count in its probe, though the half-open flag dates the phase from the trip's
/// planned end.
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    [Fact]
    public async Task Attack_TrialPool_TripClearedEarly_BounceOfMailSentAfterTheClear_CountsInTheProbe_TripsAgain()
    {
        // Arrange: 40 bounces suspend the trial pool; an hour in, an operator clears the trip's flag (the half-open one stays).
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        await BounceAsync(feedback, trial.Take(40));
        await AdvanceAsync(TimeSpan.FromHours(1));
        (await feedback.GetRequiredService<IEmailGuardFlags>().ClearAsync(EmailGuardPartyType.TenantPool, "trial", EmailGuardFlagReasons.HighBounceRate))
            .Should().Be(1);
        await RefreshAsync(checks);
        List<EmailSendAttribution> probe = await SendProbeAsync(checks, 20);
        await checks.GetRequiredService<IEmailGuardFeedback>().TrackForProviderAsync("ses", MessageId(probe[0]), probe[0]);

        // Act: that mail bounces, dated by its mapping hours before the trip's planned end.
        (await feedback.GetRequiredService<IEmailGuardFeedback>().RecordAsync(
            Bounce(probe[0], messageId: MessageId(probe[0])))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        // Assert: 1 over the probe's minimum of 50 is the 2 % line.
        Trips.Where(t => t.TenantPool is not null).Select(t => (t.Action, t.Level)).Should().Equal(
            (EmailRatioBreakerAction.Reduced, 1), (EmailRatioBreakerAction.Suspended, 1), (EmailRatioBreakerAction.Reduced, 2));
    }
}
