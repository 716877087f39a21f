using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// Ways around the volume caps and the provider's pace: one mailbox written many ways in one message is one recipient
/// to the limits but one mail per way to the provider, and each mail must cost what the provider counts.
/// </summary>
public sealed class HostilePacingTests
{
    [Fact]
    public async Task CheckAsync_OneMailboxWrittenManyWays_EachWayCostsOneAgainstTheMessageWideCaps()
    {
        // Arrange: plus-tags and Gmail dots fold to one mailbox for the limits, but the provider sends one mail to each
        // and counts every one against the account's cap.
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(1_000));
            o.Tenant.Add(RateLimitRule.PerHour(10));
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail plusTags = new() { To = [.. Enumerable.Range(1, 11).Select(i => $"mallory+{i}@example.com")], TenantId = "trial" };
        OutboundEmail dots = new() { To = ["m.allory@gmail.com", "ma.llory@gmail.com", "mal.lory@gmail.com"], TenantId = "other" };

        // Act
        EmailSendDecision overCap = await guard.CheckAsync(plusTags);
        EmailSendDecision threeMails = await guard.CheckAsync(dots);
        EmailGuardStatus other = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "other" });

        // Assert
        overCap.Reason.Should().Be(EmailSendReason.LimitExceeded, "11 mails do not fit a cap of 10, however the addresses fold");
        overCap.Dimension.Should().Be(EmailGuardDimension.Tenant);
        threeMails.IsAllowed.Should().BeTrue();
        other.Usage.Should().Contain(u => u.Dimension == EmailGuardDimension.Tenant && u.Count == 3, "three ways of writing one Gmail mailbox are three mails");
    }

    [Fact]
    public async Task CheckAsync_OneMailboxWrittenManyWays_TheMailboxCapCountsEveryMail()
    {
        // Arrange: a harasser who may reach a victim 5 times an hour writes her address 5 ways per message.
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Recipient.Add(RateLimitRule.PerHour(5)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail fiveWays = new() { To = ["victim@gmail.com", "v.ictim@gmail.com", "victim+a@gmail.com", "VICTIM@googlemail.com", "vi.ctim+b@gmail.com"] };

        // Act
        EmailSendDecision first = await guard.CheckAsync(fiveWays);
        EmailSendDecision second = await guard.CheckAsync(new OutboundEmail { To = ["victim@gmail.com"] });

        // Assert
        first.IsAllowed.Should().BeTrue();
        second.Reason.Should().Be(EmailSendReason.LimitExceeded, "the victim received 5 mails already");
        second.Dimension.Should().Be(EmailGuardDimension.Recipient);
    }

    [Fact]
    public async Task CheckAsync_OneAddressRepeatedInAnotherCase_IsOneMail()
    {
        // Arrange
        await using ServiceProvider sp = SendGuardTestServices.Build(o => o.Tenant.Add(RateLimitRule.PerHour(1)));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail repeated = new() { To = ["anna@example.com", "Anna@Example.com"], Cc = ["ANNA@EXAMPLE.COM"], TenantId = "acme" };

        // Act
        EmailSendDecision decision = await guard.CheckAsync(repeated);

        // Assert
        decision.Reason.Should().Be(EmailSendReason.Allowed, "the same address repeated is one mail to the provider ({0})", decision.Detail);
    }

    [Fact]
    public async Task CheckAsync_ManyRecipientsThenOneWrittenManyWays_EachWayCostsOneAndTheBoundCountsMails()
    {
        // Arrange: past 16 recipients the guard finds repeats by hash; the other spellings of the 18th still cost a mail
        // each, and the recipient bound counts them.
        await using ServiceProvider sp = SendGuardTestServices.Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1_000));
            o.Recipient.Add(RateLimitRule.PerHour(3));
            o.MaxRecipientsPerMessage = 22;
        });
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string[] twenty = [.. Enumerable.Range(1, 20).Select(i => $"user{i}@example.com")];
        OutboundEmail fits = new() { To = [.. twenty, "USER18@example.com", "user18+a@example.com", "user18+b@example.com"], TenantId = "t1" };
        OutboundEmail overBound = new() { To = [.. twenty, "user5+a@example.com", "user5+b@example.com", "user5+c@example.com"], TenantId = "t2" };

        // Act
        EmailSendDecision first = await guard.CheckAsync(fits);
        EmailGuardStatus t1 = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "t1" });
        EmailSendDecision eighteenth = await guard.CheckAsync(new OutboundEmail { To = ["user18@example.com"], TenantId = "t3" });
        EmailSendDecision tooMany = await guard.CheckAsync(overBound);

        // Assert
        first.IsAllowed.Should().BeTrue("22 mails fit the bound of 22 ({0})", first.Detail);
        t1.Usage.Should().Contain(u => u.Dimension == EmailGuardDimension.Tenant && u.Count == 22, "20 mailboxes, one of them written three ways");
        eighteenth.Reason.Should().Be(EmailSendReason.LimitExceeded, "user18 received three mails already");
        eighteenth.Dimension.Should().Be(EmailGuardDimension.Recipient);
        tooMany.Reason.Should().Be(EmailSendReason.TooManyRecipients, "23 mails are more than the bound of 22");
    }
}
