using System.Globalization;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// <see cref="EmailSendDecision.ToString"/> is what an app logs or throws when it does not format a decision itself;
/// a denial that waiting never fixes must not read "retry after 10675199.02:48:05".
/// </summary>
public sealed class EmailSendDecisionTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Denial_ThatWaitingNeverFixes_SaysSoInsteadOfAnEndlessWait()
    {
        var decision = new EmailSendDecision(
            EmailSendReason.Blocklisted, EmailGuardDimension.Recipient, "x@example.com", "x@example.com", null, "Blocklisted: hard_bounce", TimeSpan.MaxValue, Now, null);

        decision.ToString().Should().Be("Blocklisted Recipient x@example.com, never allowed");
    }

    [Fact]
    public void Denial_ByALimit_GivesTheWaitInTheInvariantFormat()
    {
        CultureInfo before = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("ar-SA");
            var decision = new EmailSendDecision(
                EmailSendReason.LimitExceeded, EmailGuardDimension.Tenant, "acme", null, null, null, TimeSpan.FromSeconds(3_300.5), Now, null);

            decision.ToString().Should().Be("LimitExceeded Tenant acme, retry after 00:55:00.5000000");
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }
    }
}
