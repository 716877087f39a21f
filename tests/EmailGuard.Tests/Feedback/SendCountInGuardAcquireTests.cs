using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Feedback;

/// <summary>The ratio breakers' count of admitted sends is taken in the guard's own acquire: exactly the admitted ones, in one store call.</summary>
public sealed class SendCountInGuardAcquireTests
{
    [Fact]
    public async Task Check_AdmittedDeniedAndPeeked_OneAcquirePerCheck_AndOnlyAdmittedMessagesCountAsSends()
    {
        // Arrange
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        RecordingRateLimitStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Recipient.Add(RateLimitRule.PerHour(2)), time: time, more: s => s.AddSingleton<IRateLimitStore>(store));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailFeedbackCounts counts = sp.GetRequiredService<IEmailFeedbackCounts>();
        OutboundEmail Mail(string to) => new() { To = [to], TenantId = "acme", UserId = "u1", Sender = "App+x@Example.com", Category = "Share" };

        // Act: two recipients within their limit twice each, then over it once each; peeks in between.
        List<EmailSendDecision> decisions = [];
        foreach (string to in new[] { "a@x.example", "b@x.example", "a@x.example", "b@x.example", "a@x.example", "b@x.example" })
        {
            await guard.PeekAsync(Mail(to));
            decisions.Add(await guard.CheckAsync(Mail(to)));
        }

        // Assert
        decisions.Select(d => d.IsAllowed).Should().Equal(true, true, true, true, false, false);
        store.Acquires.Should().Be(6, "one acquire per check: the send is counted in it, never in an acquire of its own");
        (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(4, "denied and peeked messages are not sends");
        (await counts.GetAsync(EmailGuardDimension.User, "u1")).Sends.Should().Be(4);
        (await counts.GetAsync(EmailGuardDimension.Sender, "app@example.com")).Sends.Should().Be(4, "the sender as the guard normalizes it");
        (await counts.GetAsync(EmailGuardDimension.Category, "share")).Sends.Should().Be(4);
        (await counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(4);
        decisions[0].Usage.ToArray().Should().OnlyContain(u => u.Dimension == EmailGuardDimension.Recipient, "the send counters are not the decision's usage");
        (await guard.RefundAsync(decisions[0])).Should().BeTrue();
        (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(3, "a refund gives the guard's permits back and its send count: the provider refused the mail, so nothing was sent");
        (await counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(3);
    }

    [Fact]
    public async Task Check_MessageToSeveralRecipients_CountsOneSendPerDistinctRecipient_AndARefundGivesThemAllBack()
    {
        // Arrange
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Recipient.Add(RateLimitRule.PerHour(5)), time: time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailFeedbackCounts counts = sp.GetRequiredService<IEmailFeedbackCounts>();
        OutboundEmail message = new() { To = ["a@x.example", "A@X.example"], Cc = ["b@x.example"], Bcc = ["c@x.example"], TenantId = "acme" };

        // Act
        EmailSendDecision decision = await guard.CheckAsync(message);
        long counted = (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends;
        (await guard.RefundAsync(decision)).Should().BeTrue();

        // Assert
        counted.Should().Be(3, "three distinct recipients are three sends, as their bounces are three failures");
        (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(0, "the refund gives back every send it counted");
        (await counts.GetAsync(EmailGuardDimension.Global, null)).Sends.Should().Be(0);
    }

    [Fact]
    public async Task Check_PlanTooLargeToCarryTheSendCounters_CountsEachDistinctRecipientInACallOfItsOwn()
    {
        // Arrange: 1,365 recipients at their own domains take 4,095 counters, leaving no room in the store call for the
        // send counters, so the send is counted in a call of its own.
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.MaxRecipientsPerMessage = 1_365;
                o.Recipient.Add(RateLimitRule.PerHour(5)).Add(RateLimitRule.PerDay(20));
                o.RecipientDomain.Add(RateLimitRule.PerHour(1_000));
            },
            time: time);
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        IEmailFeedbackCounts counts = sp.GetRequiredService<IEmailFeedbackCounts>();
        OutboundEmail message = new() { To = [.. Enumerable.Range(0, 1_365).Select(i => $"r{i}@d{i}.example"), "R0@D0.example"], TenantId = "acme" };

        // Act
        EmailSendDecision decision = await guard.CheckAsync(message);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        (await counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Sends.Should().Be(1_365, "one send per distinct recipient, in the call of its own too");
    }
}
