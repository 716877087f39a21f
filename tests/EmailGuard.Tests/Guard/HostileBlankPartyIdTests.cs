using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Feedback;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// A tenant, user or category id that is empty or only white space names no party the rest of EmailGuard can act on:
/// the flags and lists refuse it, feedback counts nothing under it. A check counted it all the same, each spelling
/// (<c>" "</c>, <c>"  "</c>, a no-break space) as a party of its own with a fresh cap that no suspension, blocklist or
/// ratio breaker could reach. Now every entry point refuses it as it refuses an over-long id: an
/// <see cref="EmailSendReason.InvalidParty"/> decision, never an exception, and the status leaves it out.
/// </summary>
public sealed class HostileBlankPartyIdTests
{
    public static TheoryData<EmailGuardDimension, string> BlankIds()
    {
        TheoryData<EmailGuardDimension, string> data = [];
        foreach (EmailGuardDimension dimension in (EmailGuardDimension[])[EmailGuardDimension.Tenant, EmailGuardDimension.User, EmailGuardDimension.Category])
        {
            foreach (string id in (string[])[string.Empty, " ", "  ", "\t", "\u00A0", "\u3000", "\r\n"])
            {
                data.Add(dimension, id);
            }
        }

        return data;
    }

    private static (ServiceProvider Services, RecordingRateLimitStore Store, CountingTenantLimitProvider Provider) Build(FakeLogCollector? logs = null)
        => PartyIdGuard.Build(2, 2, logs);

    private static OutboundEmail Mail(EmailGuardDimension dimension, string id, string to = "victim@example.com") => new()
    {
        To = [to],
        TenantId = dimension == EmailGuardDimension.Tenant ? id : "acme",
        UserId = dimension == EmailGuardDimension.User ? id : "u1",
        Category = dimension == EmailGuardDimension.Category ? id : "share",
    };

    [Theory]
    [MemberData(nameof(BlankIds))]
    public async Task CheckReservePeek_BlankId_IsAnInvalidPartyDecision_WithNothingTaken(EmailGuardDimension dimension, string id)
    {
        FakeLogCollector logs = new();
        (ServiceProvider sp, RecordingRateLimitStore store, CountingTenantLimitProvider provider) = Build(logs);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision checkedDecision = await guard.CheckAsync(Mail(dimension, id));
        EmailSendDecision reserved = await guard.ReserveAsync(Mail(dimension, id));
        EmailSendDecision peeked = await guard.PeekAsync(Mail(dimension, id));

        foreach (EmailSendDecision decision in (EmailSendDecision[])[checkedDecision, reserved, peeked])
        {
            decision.IsAllowed.Should().BeFalse();
            decision.Reason.Should().Be(EmailSendReason.InvalidParty);
            decision.Dimension.Should().Be(dimension);
            decision.Detail.Should().Contain($"The {dimension} id is").And.Contain("null");
        }

        store.Acquires.Should().Be(0, "nothing is counted for a refused message");
        provider.Calls(id).Should().Be(0, "the app's tenant database is not asked about a blank tenant");
        logs.GetSnapshot().Where(r => r.Id.Id == 3138).Should().HaveCount(3);
    }

    [Fact]
    public async Task Check_BlankSpellings_GetNoBucketOfTheirOwn_AndNoWayPastTheTenantCap()
    {
        // The attacker of a trial tenant capped at 2 an hour, who can set the tenant id the app passes on (a header, a
        // form field): each blank spelling was a tenant of its own with its own 2, which no flag or blocklist could name.
        (ServiceProvider sp, _, _) = Build();
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        string[] spellings = [string.Empty, " ", "  ", "   ", "\t", "\u00A0", "\u2003", "\u3000", " \u00A0\t"];

        // A fresh user for every mail and no category: only the tenant's cap stands between the attacker and the provider.
        int user = 0;
        OutboundEmail Send(string tenant) => new() { To = [$"r{user}@example.com"], TenantId = tenant, UserId = $"user-{user++}" };
        int admitted = 0;
        for (int i = 0; i < 2; i++)
        {
            admitted += (await guard.CheckAsync(Send("trial-1"))).IsAllowed ? 1 : 0;
        }

        int blankAdmitted = 0;
        foreach (string spelling in spellings)
        {
            for (int i = 0; i < 3; i++)
            {
                blankAdmitted += (await guard.CheckAsync(Send(spelling))).IsAllowed ? 1 : 0;
            }
        }

        EmailSendDecision capped = await guard.CheckAsync(Send("trial-1"));

        admitted.Should().Be(2);
        blankAdmitted.Should().Be(0, "before, each of the 9 spellings admitted 2: 18 mails past the tenant's cap");
        capped.Reason.Should().Be(EmailSendReason.LimitExceeded, "the tenant's own cap still holds");
    }

    [Theory]
    [MemberData(nameof(BlankIds))]
    public async Task Status_BlankId_IsLeftOutAndNamed_NotAnException(EmailGuardDimension dimension, string id)
    {
        // The ratios' read refused a blank tenant or user id with an ArgumentException, out of GetStatusAsync, after the
        // app's tenant database had been asked about it; a blank category read the Category rules' counter of "".
        await using FeedbackTestApp app = new(guard: o => o.Tenant.Add(RateLimitRule.PerHour(2)));
        OutboundEmail mail = Mail(dimension, id);

        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = mail.TenantId, UserId = mail.UserId, Category = mail.Category });

        status.InvalidParty.Should().Be(dimension);
        status.Usage.Should().NotContain(u => u.Dimension == dimension);
        status.Ratios.Should().NotContain(r => r.Counts.Dimension == dimension).And.Contain(r => r.Counts.Dimension == EmailGuardDimension.Global);
    }

    [Fact]
    public async Task GuardedSender_BlankTenant_IsNotSent_AndReturnsTheRefusal()
    {
        FakeTransport transport = new();
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.Tenant.Add(RateLimitRule.PerHour(100)),
            more: s =>
            {
                s.AddSingleton<IEmailTransport>(transport);
                s.AddEmailGuard().AddGuardedEmailSender();
            });
        IGuardedEmailSender sender = sp.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult result = await sender.TrySendAsync(Mail(EmailGuardDimension.Tenant, "\u00A0"), new EmailContent { Subject = "Order", TextBody = "Attached." });

        result.Sent.Should().BeFalse();
        result.Decision.Reason.Should().Be(EmailSendReason.InvalidParty);
        transport.Sent.Should().BeEmpty();
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\u00A0")]
    [InlineData("\u3000")]
    public async Task Feedback_BlankTenantTag_IsChargedToTheOtherParties_NeverThrown(string blank)
    {
        // Echoed tags are input from outside: a provider (or a forger) may echo a tenant tag of a blank id.
        await using FeedbackTestApp app = new();
        IReadOnlyDictionary<string, string> tags = EmailFeedbackTags.Write(new EmailSendAttribution { SendId = "s1", TenantId = blank, UserId = "u1" });
        EmailFeedbackTags.TryRead(tags, out EmailSendAttribution? echoed).Should().BeTrue();
        echoed!.TenantId.Should().Be(blank, "the tag carries the blank id as it was written");

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-blank", attribution: echoed));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "u1")).Bounces.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(1);
        EmailGuardStatus status = await app.Guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = blank });
        status.InvalidParty.Should().Be(EmailGuardDimension.Tenant, "no tenant is charged, and none can be read");
    }

    private sealed class FakeTransport : IEmailTransport
    {
        public List<OutboundEmail> Sent { get; } = [];

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Sent.Add(envelope);
            return ValueTask.CompletedTask;
        }
    }
}
