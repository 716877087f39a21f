using EmailGuard.Tests.Guard;

namespace EmailGuard.Tests.Feedback;

/// <summary>
/// Suppression takes effect on the next check of the instance that recorded the feedback, although its list snapshot
/// would not refresh for an hour: recording reloads the snapshot after writing the blocklist.
/// </summary>
public sealed class FeedbackSuppressionTests
{
    [Fact]
    public async Task HardBounce_NextCheckToTheAddress_IsBlocklistedForEveryTenantForever()
    {
        await using FeedbackTestApp app = new();
        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: "Victim@Example.com"));

        result.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        EmailSendDecision next = await app.CheckAsync("victim@example.com");
        next.Reason.Should().Be(EmailSendReason.Blocklisted);
        next.Detail.Should().Contain("hard_bounce");
        (await app.Guard.CheckAsync(new OutboundEmail { To = ["VICTIM@example.com"], TenantId = "another-tenant" })).Reason.Should().Be(EmailSendReason.Blocklisted);
        app.Time.Advance(TimeSpan.FromDays(400));
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com"))!.Reason.Should().Be("hard_bounce");
    }

    [Fact]
    public async Task HardBounce_OfASpellingTheProviderRuleFolds_SuppressesTheMailbox()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: "V.ictim+x@GoogleMail.com"));

        // Gmail ignores the dots and delivers every +tag to the mailbox: its bounce is the mailbox's.
        result.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        (await app.CheckAsync("victim@gmail.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await app.CheckAsync("vic.tim+y@gmail.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
    }

    [Theory]
    [InlineData("ceo+x@example.com")]
    [InlineData("CEO+newsletter@Example.com")]
    [InlineData("ceo%example.com@example.com")]
    public async Task HardBounce_OfASpellingFoldedByAGuess_DoesNotSuppressTheMailboxItFoldsTo(string bounced)
    {
        // A server without sub-addressing bounces ceo+x while ceo lives: one bounced mail, which a rogue tenant or a
        // signup bot causes at will, suppressed ceo@example.com for good, for every tenant.
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: bounced));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded, "the bounce happened and counts against whoever sent it");
        result.SuppressionReason.Should().BeNull();
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "ceo@example.com")).Should().BeNull();
        (await app.CheckAsync("ceo@example.com")).IsAllowed.Should().BeTrue();
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: bounced))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await app.CheckAsync("ceo@example.com")).IsAllowed.Should().BeTrue("a duplicate does not complete a suppression that was never due");
    }

    [Fact]
    public async Task TransientBounces_OfSpellingsFoldedByAGuess_DoNotSuppressTheMailboxTheyFoldTo()
    {
        await using FeedbackTestApp app = new();

        for (int i = 0; i < 5; i++)
        {
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event($"t{i}", bounce: EmailBounceType.Transient, recipient: $"ceo+{i}@example.com")))
                .SuppressionReason.Should().BeNull();
        }

        (await app.CheckAsync("ceo@example.com")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Complaint_OfATaggedSpelling_SuppressesTheMailbox()
    {
        // A complaint means the mail was delivered: the tag reached a mailbox, and it is the one the address folds to.
        await using FeedbackTestApp app = new();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained, recipient: "ceo+x@example.com"));

        (await app.CheckAsync("ceo@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
    }

    [Fact]
    public async Task Complaint_IsPermanentByDefault()
    {
        await using FeedbackTestApp app = new();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained));

        EmailGuardListEntry entry = (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com"))!;
        entry.Reason.Should().Be(EmailFeedbackSuppressionReasons.Complaint);
        entry.ExpiresAt.Should().BeNull();
        entry.CreatedBy.Should().Be("emailguard:feedback:ses");
        (await app.CheckAsync("victim@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
    }

    [Fact]
    public async Task Complaint_WithConfiguredExpiry_ExpiresThen()
    {
        await using FeedbackTestApp app = new(o => o.ComplaintSuppression = TimeSpan.FromDays(90));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained));
        app.Time.Advance(TimeSpan.FromDays(89));
        (await app.CheckAsync("victim@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);

        app.Time.Advance(TimeSpan.FromDays(2));

        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task TransientBounces_ThirdWithinSevenDays_Suppresses()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult first = await app.Feedback.RecordAsync(FeedbackTestApp.Event("t1", bounce: EmailBounceType.Transient));
        app.Time.Advance(TimeSpan.FromDays(3));
        EmailFeedbackResult second = await app.Feedback.RecordAsync(FeedbackTestApp.Event("t2", bounce: EmailBounceType.Undetermined));
        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue("two soft bounces are below the threshold");
        app.Time.Advance(TimeSpan.FromDays(3));
        EmailFeedbackResult third = await app.Feedback.RecordAsync(FeedbackTestApp.Event("t3", bounce: EmailBounceType.Transient));

        first.SuppressionReason.Should().BeNull();
        second.SuppressionReason.Should().BeNull();
        third.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.TransientBounces);
        (await app.CheckAsync("victim@example.com")).Reason.Should().Be(EmailSendReason.Blocklisted);
        EmailGuardListEntry entry = (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com"))!;
        entry.ExpiresAt.Should().Be(app.Time.GetUtcNow() + TimeSpan.FromDays(30));
    }

    [Theory]
    [InlineData(EmailBounceType.Transient)]
    [InlineData(EmailBounceType.Undetermined)]
    [InlineData(EmailBounceType.Permanent)]
    public async Task RejectionsForTheMessage_FromARogueTenant_DoNotSuppressTheAddress_ButCountAgainstTheTenant(EmailBounceType bounce)
    {
        // Three spammy mails in a week from one tenant, refused for their content, suppressed the recipient for 30 days
        // for every tenant (the soft-bounce threshold), and a content rejection a provider calls permanent for good.
        await using FeedbackTestApp app = new();
        EmailSendAttribution rogue = new() { TenantId = "rogue", Category = "share" };

        for (int i = 0; i < 5; i++)
        {
            EmailFeedbackResult result = await app.Feedback.RecordAsync(Rejection($"c{i}", bounce, rogue));
            result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
            result.SuppressionReason.Should().BeNull();
        }

        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com")).Should().BeNull();
        (await app.Guard.CheckAsync(new OutboundEmail { To = ["victim@example.com"], TenantId = "good" })).IsAllowed.Should().BeTrue();
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue");
        (counts.Bounces, counts.TransientBounces).Should().Be((5, 0), "the rejections count against the tenant that sent the mail, as bounces whatever their type");
        (await app.Feedback.RecordAsync(Rejection("c0", bounce, rogue))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com")).Should().BeNull("a duplicate completes no suppression");
    }

    [Fact]
    public async Task RejectionsForTheMessage_DoNotCountTowardTheAddressSoftBounces()
    {
        await using FeedbackTestApp app = new();

        for (int i = 0; i < 5; i++)
        {
            await app.Feedback.RecordAsync(Rejection($"c{i}", EmailBounceType.Transient, null));
        }

        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("t1", bounce: EmailBounceType.Transient))).SuppressionReason.Should().BeNull();
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("t2", bounce: EmailBounceType.Transient))).SuppressionReason.Should().BeNull();
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("t3", bounce: EmailBounceType.Transient))).SuppressionReason
            .Should().Be(EmailFeedbackSuppressionReasons.TransientBounces, "three soft bounces of the mailbox itself still suppress it");
    }

    [Theory]
    [InlineData(EmailBounceType.Transient)]
    [InlineData(EmailBounceType.Undetermined)]
    public async Task RefusalOfOneMessage_PostedAgainForEveryDeliveryAttempt_CountsOneBounce(EmailBounceType bounce)
    {
        // Mailgun retries a message a server refused "temporarily" (espblock) for hours, and posts a failed event, with
        // an event id of its own, for every attempt: each counted as one more bounce, one refused message made five, and
        // a tenant under the breakers' lines with one mail a spam filter held back tripped them.
        await using FeedbackTestApp app = new();
        EmailSendAttribution tenant = new() { TenantId = "acme" };

        EmailFeedbackOutcome[] outcomes = new EmailFeedbackOutcome[5];
        for (int attempt = 0; attempt < outcomes.Length; attempt++)
        {
            outcomes[attempt] = (await app.Feedback.RecordAsync(Refusal($"attempt{attempt}", "msg-1", "victim@example.com", bounce, tenant))).Outcome;
        }

        (await app.Feedback.RecordAsync(Refusal("other-message", "msg-2", "victim@example.com", bounce, tenant))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        (await app.Feedback.RecordAsync(Refusal("other-recipient", "msg-1", "second@example.com", bounce, tenant))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);

        outcomes.Should().Equal(EmailFeedbackOutcome.Recorded, EmailFeedbackOutcome.Duplicate, EmailFeedbackOutcome.Duplicate, EmailFeedbackOutcome.Duplicate, EmailFeedbackOutcome.Duplicate);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(3, "one refused message to one recipient is one bounce, however often the provider tried it");
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(3);
    }

    [Fact]
    public async Task RefusalOfOneMessage_ToSeveralSpellingsOfOneMailbox_CountsABounceForEveryMailSent()
    {
        // One message to five spellings of one mailbox is one recipient to the limits but five mails to the provider, and
        // five sends to the ratios. Refusals keyed by the folded address counted one bounce for the five refused mails: a
        // sender whose every mail spam filters refuse read a bounce rate of 20 %, under the breakers' lines.
        await using FeedbackTestApp app = new();
        string[] spellings = ["victim@gmail.com", "v.ictim@gmail.com", "victim+1@gmail.com", "Victim+2@googlemail.com", "vic.tim+3@gmail.com"];
        EmailSendDecision sent = await app.Guard.CheckAsync(new OutboundEmail { To = spellings, Sender = "noreply@app.example", TenantId = "acme" });
        sent.IsAllowed.Should().BeTrue();
        EmailSendAttribution tenant = new() { TenantId = "acme" };

        EmailFeedbackOutcome[] refused = new EmailFeedbackOutcome[spellings.Length];
        EmailFeedbackOutcome[] retried = new EmailFeedbackOutcome[spellings.Length];
        for (int i = 0; i < spellings.Length; i++)
        {
            refused[i] = (await app.Feedback.RecordAsync(Refusal($"first{i}", "<msg-1@mg.example>", spellings[i], EmailBounceType.Transient, tenant))).Outcome;
        }

        for (int i = 0; i < spellings.Length; i++)
        {
            // Each mail's next attempt, its address in another case and its message id without the brackets: the same mail.
            retried[i] = (await app.Feedback.RecordAsync(Refusal($"retry{i}", "msg-1@mg.example", spellings[i].ToUpperInvariant(), EmailBounceType.Transient, tenant))).Outcome;
        }

        refused.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Recorded, "each spelling was a mail of its own, refused on its own");
        retried.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Duplicate, "a later attempt at one of those mails is the same refusal");
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        counts.Sends.Should().Be(5);
        counts.Bounces.Should().Be(5, "every mail the provider sent was refused");
    }

    [Fact]
    public async Task RefusalOfOneMessage_ASpellingRepeatedInOtherCases_IsOneMailSentAndOneBounce()
    {
        // v+2@gmail.com is the mailbox's second spelling; V+2@GMAIL.COM and the rest are that mail in other cases. The
        // guard compared a spelling with the mailbox's first only, so it counted each case of the second as one more send,
        // while the refusals of those cases fold into one bounce: a message to one spelling in many cases diluted the
        // sender's bounce ratio at will (here 2 bounces in 5 sends for a message refused whole).
        await using FeedbackTestApp app = new();
        string[] written = ["v+1@gmail.com", "v+2@gmail.com", "V+2@GMAIL.COM", "v+2@Gmail.com", " V+2@gmail.COM "];
        EmailSendDecision sent = await app.Guard.CheckAsync(new OutboundEmail { To = written, Sender = "noreply@app.example", TenantId = "acme" });
        sent.IsAllowed.Should().BeTrue();
        EmailSendAttribution tenant = new() { TenantId = "acme" };

        EmailFeedbackOutcome[] refused = new EmailFeedbackOutcome[written.Length];
        for (int i = 0; i < written.Length; i++)
        {
            refused[i] = (await app.Feedback.RecordAsync(Refusal($"r{i}", "<msg-1@mg.example>", written[i], EmailBounceType.Transient, tenant))).Outcome;
        }

        refused.Should().Equal(
            EmailFeedbackOutcome.Recorded, EmailFeedbackOutcome.Recorded, EmailFeedbackOutcome.Duplicate, EmailFeedbackOutcome.Duplicate, EmailFeedbackOutcome.Duplicate);
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        counts.Sends.Should().Be(2, "two mails: v+1 and v+2, whatever their case");
        counts.Bounces.Should().Be(2, "both mails were refused");
    }

    [Fact]
    public async Task RefusalOfMailsSharingAMessageId_EachSentByTheGuard_CountsABounceForEveryMail()
    {
        // Mailgun takes the message's Message-ID for its id, and an app that passes its customers' headers through lets a
        // customer give every mail one. Refusals keyed by message id and recipient counted one bounce for all the mails to
        // a recipient: five refused mails, five sends, one bounce. Each mail's tags carry its own send id.
        await using FeedbackTestApp app = new();
        const string MessageId = "<same@customer.example>";
        List<EmailSendAttribution> mails = [];
        for (int i = 0; i < 5; i++)
        {
            EmailSendDecision sent = await app.Guard.CheckAsync(new OutboundEmail { To = ["victim@example.com"], Sender = "noreply@app.example", TenantId = "acme" });
            sent.IsAllowed.Should().BeTrue();
            mails.Add(sent.Attribution!);
            await app.Feedback.TrackForProviderAsync("mailgun", MessageId, sent.Attribution!);
        }

        mails.Select(m => m.SendId).Should().OnlyHaveUniqueItems();
        EmailFeedbackOutcome[] refused = new EmailFeedbackOutcome[mails.Count];
        EmailFeedbackOutcome[] retried = new EmailFeedbackOutcome[mails.Count];
        for (int i = 0; i < mails.Count; i++)
        {
            refused[i] = (await app.Feedback.RecordAsync(Refusal($"first{i}", MessageId, "victim@example.com", EmailBounceType.Transient, mails[i]))).Outcome;
        }

        for (int i = 0; i < mails.Count; i++)
        {
            retried[i] = (await app.Feedback.RecordAsync(Refusal($"retry{i}", MessageId, "victim@example.com", EmailBounceType.Transient, mails[i]))).Outcome;
        }

        refused.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Recorded, "each mail was refused on its own");
        retried.Should().AllBeEquivalentTo(EmailFeedbackOutcome.Duplicate, "a later attempt at one of those mails echoes its tags: the same refusal");
        EmailFeedbackCounts counts = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        counts.Sends.Should().Be(5);
        counts.Bounces.Should().Be(5, "every mail the provider sent was refused");
    }

    [Theory]
    [InlineData(EmailFeedbackKind.Complained, false)]
    [InlineData(EmailFeedbackKind.Delivered, false)]
    [InlineData(EmailFeedbackKind.Bounced, true)]
    public async Task RejectedForMessage_OnAnEventThatIsNotABounceOfSentMail_IsRefused(EmailFeedbackKind kind, bool suppressedByProvider)
    {
        await using FeedbackTestApp app = new();
        EmailFeedbackEvent feedback = FeedbackTestApp.Event("x", kind);

        Func<Task> record = async () => await app.Feedback.RecordAsync(new EmailFeedbackEvent
        {
            Provider = feedback.Provider,
            ProviderEventId = feedback.ProviderEventId,
            Recipient = feedback.Recipient,
            Kind = kind,
            BounceType = feedback.BounceType,
            SuppressedByProvider = suppressedByProvider,
            RejectedForMessage = true,
        });

        (await record.Should().ThrowAsync<ArgumentException>()).WithMessage("*RejectedForMessage*");
    }

    private static EmailFeedbackEvent Refusal(string id, string messageId, string recipient, EmailBounceType bounce, EmailSendAttribution attribution) => new()
    {
        Provider = "mailgun",
        ProviderEventId = id,
        ProviderMessageId = messageId,
        Recipient = recipient,
        Kind = EmailFeedbackKind.Bounced,
        BounceType = bounce,
        RejectedForMessage = true,
        Attribution = attribution,
    };

    private static EmailFeedbackEvent Rejection(string id, EmailBounceType bounce, EmailSendAttribution? attribution) => new()
    {
        Provider = "ses",
        ProviderEventId = id,
        Recipient = "victim@example.com",
        Kind = EmailFeedbackKind.Bounced,
        BounceType = bounce,
        RejectedForMessage = true,
        Timestamp = SendGuardTestServices.Start,
        Attribution = attribution,
        Detail = "ContentRejected",
    };

    [Fact]
    public async Task TransientBounces_SpreadBeyondThePeriod_DoNotSuppress()
    {
        await using FeedbackTestApp app = new();

        for (int i = 0; i < 5; i++)
        {
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event($"t{i}", bounce: EmailBounceType.Transient))).SuppressionReason.Should().BeNull();
            app.Time.Advance(TimeSpan.FromDays(4));
        }

        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task TransientBounces_DuplicateDeliveries_DoNotCountTowardsTheThreshold()
    {
        await using FeedbackTestApp app = new();

        for (int i = 0; i < 5; i++)
        {
            await app.Feedback.RecordAsync(FeedbackTestApp.Event("same-event", bounce: EmailBounceType.Transient));
        }

        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue("one soft bounce delivered five times is one soft bounce");
    }

    [Fact]
    public async Task TransientBounces_ThresholdZero_NeverSuppress()
    {
        await using FeedbackTestApp app = new(o => o.TransientBounceThreshold = 0);

        for (int i = 0; i < 5; i++)
        {
            await app.Feedback.RecordAsync(FeedbackTestApp.Event($"t{i}", bounce: EmailBounceType.Transient));
        }

        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Suppression_NeverShortensAnExistingPermanentBlock()
    {
        await using FeedbackTestApp app = new(o => o.TransientBounceThreshold = 1);
        await app.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com", "spam_trap", addedBy: "admin");

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("t1", bounce: EmailBounceType.Transient));

        result.SuppressionReason.Should().BeNull();
        EmailGuardListEntry entry = (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com"))!;
        entry.Reason.Should().Be("spam_trap");
        entry.ExpiresAt.Should().BeNull();
    }

    [Fact]
    public async Task Unsubscribe_SuppressesTheRecipientForItsCategoryOnly()
    {
        await using FeedbackTestApp app = new();
        EmailSendAttribution attribution = new() { Category = "Newsletter", TenantId = "acme" };

        EmailFeedbackResult result = await app.Feedback.RecordAsync(
            FeedbackTestApp.Event("u1", EmailFeedbackKind.Unsubscribed, recipient: "reader+news@example.com", attribution: attribution));

        result.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.Unsubscribe);
        EmailSendDecision newsletter = await app.CheckAsync("Reader@example.com", "newsletter");
        newsletter.Reason.Should().Be(EmailSendReason.Blocklisted);
        newsletter.Recipient.Should().Be("reader@example.com");
        (await app.CheckAsync("reader@example.com", "NEWSLETTER")).Reason.Should().Be(EmailSendReason.Blocklisted, "categories match case-insensitively");
        (await app.CheckAsync("reader@example.com", "password-reset")).IsAllowed.Should().BeTrue();
        (await app.CheckAsync("reader@example.com", null)).IsAllowed.Should().BeTrue("a message without a category is not in the unsubscribed one");
        (await app.CheckAsync("other@example.com", "newsletter")).IsAllowed.Should().BeTrue();
        (await app.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.CategoryRecipient, "newsletter:reader@example.com"))!.Reason.Should().Be("unsubscribe");
    }

    [Fact]
    public async Task Unsubscribe_CategoryFromTheEvent_WinsOverTheAttribution()
    {
        await using FeedbackTestApp app = new();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event(
            "u1", EmailFeedbackKind.Unsubscribed, recipient: "reader@example.com", attribution: new EmailSendAttribution { Category = "signup" }, category: "digest"));

        (await app.CheckAsync("reader@example.com", "digest")).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await app.CheckAsync("reader@example.com", "signup")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Unsubscribe_CategoryWithAColon_CannotReachAnotherCategory()
    {
        await using FeedbackTestApp app = new();

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("u1", EmailFeedbackKind.Unsubscribed, recipient: "reader@example.com", category: "a:b"));

        (await app.CheckAsync("reader@example.com", "a:b")).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await app.CheckAsync("reader@example.com", "a")).IsAllowed.Should().BeTrue();
        (await app.CheckAsync("b@example.com", "a")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Unsubscribe_WithoutAnyCategory_SuppressesNothing()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("u1", EmailFeedbackKind.Unsubscribed, recipient: "reader@example.com"));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        result.SuppressionReason.Should().BeNull();
        (await app.CheckAsync("reader@example.com", "newsletter")).IsAllowed.Should().BeTrue();
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1707);
    }

    [Fact]
    public async Task Delivered_SuppressesNothing()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("d1", EmailFeedbackKind.Delivered));

        result.SuppressionReason.Should().BeNull();
        (await app.CheckAsync("victim@example.com")).IsAllowed.Should().BeTrue();
    }
}
