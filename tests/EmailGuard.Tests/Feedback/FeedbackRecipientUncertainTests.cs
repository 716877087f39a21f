namespace EmailGuard.Tests.Feedback;

/// <summary>
/// Feedback whose report is uncertain of its recipient (a SendGrid event that repeats its own <c>email</c> or
/// <c>event</c>, because a custom arg of that name is echoed beside it): it counts against its parties as any other, and
/// never suppresses the address it names nor counts toward the address's soft bounces.
/// </summary>
public sealed class FeedbackRecipientUncertainTests
{
    private const string Victim = "victim@example.com";
    private static readonly EmailSendAttribution s_rogue = new() { TenantId = "rogue", Sender = "noreply@rogue.example", Category = "share" };

    private static EmailFeedbackEvent Uncertain(string id, EmailFeedbackKind kind, EmailBounceType bounce = EmailBounceType.None, string category = "share")
        => new()
        {
            Provider = "sendgrid",
            ProviderEventId = id,
            Recipient = Victim,
            Kind = kind,
            BounceType = bounce,
            RecipientUncertain = true,
            Attribution = s_rogue,
            Category = category,
        };

    [Theory]
    [InlineData(EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    [InlineData(EmailFeedbackKind.Complained, EmailBounceType.None)]
    [InlineData(EmailFeedbackKind.Unsubscribed, EmailBounceType.None)]
    public async Task Record_CountsAgainstTheParties_AndSuppressesNoAddress(EmailFeedbackKind kind, EmailBounceType bounce)
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult first = await app.Feedback.RecordAsync(Uncertain("evt-1", kind, bounce));
        EmailFeedbackResult again = await app.Feedback.RecordAsync(Uncertain("evt-1", kind, bounce));

        (first.Outcome, first.SuppressionReason).Should().Be((EmailFeedbackOutcome.Recorded, (string?)null));
        again.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate, "a retry completes no suppression either");
        EmailFeedbackCounts tenant = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue");
        EmailFeedbackCounts account = await app.Counts.GetAsync(EmailGuardDimension.Global, null);
        long expected = kind == EmailFeedbackKind.Unsubscribed ? 0 : 1;
        (tenant.Bounces + tenant.Complaints, account.Bounces + account.Complaints).Should().Be((expected, expected));
        (await app.CheckAsync(Victim, "share")).IsAllowed.Should().BeTrue("whoever repeated the field chose the address");
    }

    [Fact]
    public async Task TransientBounces_DoNotCountTowardTheAddress()
    {
        await using FeedbackTestApp app = new();

        for (int i = 0; i < 10; i++)
        {
            (await app.Feedback.RecordAsync(Uncertain($"evt-{i}", EmailFeedbackKind.Bounced, EmailBounceType.Transient))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        }

        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).TransientBounces.Should().Be(10);
        (await app.CheckAsync(Victim)).IsAllowed.Should().BeTrue("soft bounces of an uncertain recipient are no address's");
    }
}
