using System.Diagnostics.Metrics;
using System.Net;
using EmailGuard.Testing.Stores;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;

namespace EmailGuard.Tests.Feedback;

public sealed class EmailGuardFeedbackTests
{
    [Fact]
    public async Task Record_SameEventTwice_SecondIsDuplicateAndCountsOnce()
    {
        await using FeedbackTestApp app = new();
        EmailSendAttribution attribution = new() { TenantId = "acme" };

        EmailFeedbackResult first = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered, attribution: attribution));
        EmailFeedbackResult second = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered, attribution: attribution));
        EmailFeedbackResult otherProvider = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered, attribution: attribution, provider: "mailgun"));

        first.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        second.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        otherProvider.Outcome.Should().Be(EmailFeedbackOutcome.Recorded, "event ids are unique per provider only");
        EmailFeedbackCounts tenant = await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme");
        tenant.Delivered.Should().Be(2);
    }

    [Fact]
    public async Task Record_DuplicateWithinTheWindow_IsDuplicateAndAfterItIsNew()
    {
        await using FeedbackTestApp app = new(o => o.DeduplicationWindow = TimeSpan.FromHours(1));
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        app.Time.Advance(TimeSpan.FromMinutes(59));
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered))).Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        app.Time.Advance(TimeSpan.FromHours(2));
        (await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered))).Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }

    [Fact]
    public async Task Record_DuplicateOfAHardBounce_SuppressesOnceAndRaisesOnce()
    {
        int bounces = 0;
        int suppressed = 0;
        await using FeedbackTestApp app = new(o =>
        {
            o.Events.OnBounce = _ =>
            {
                bounces++;
                return ValueTask.CompletedTask;
            };
            o.Events.OnSuppressed = _ =>
            {
                suppressed++;
                return ValueTask.CompletedTask;
            };
        });

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));

        bounces.Should().Be(1);
        suppressed.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Bounces.Should().Be(1);
    }

    public static TheoryData<string, EmailFeedbackEvent> InvalidEvents => new()
    {
        { "Provider", FeedbackTestApp.Event("e", provider: "") },
        { "Provider", FeedbackTestApp.Event("e", provider: "SES") },
        { "Provider", FeedbackTestApp.Event("e", provider: "ses\nforged") },
        { "Provider", FeedbackTestApp.Event("e", provider: new string('a', 33)) },
        { "ProviderEventId", FeedbackTestApp.Event(" ") },
        { "ProviderEventId", FeedbackTestApp.Event(new string('x', 1025)) },
        { "ProviderMessageId", FeedbackTestApp.Event("e", messageId: "") },
        { "Recipient", FeedbackTestApp.Event("e", recipient: "not an address") },
        { "Kind", FeedbackTestApp.Event("e", kind: EmailFeedbackKind.None) },
        { "Kind", FeedbackTestApp.Event("e", kind: (EmailFeedbackKind)42) },
        { "BounceType", FeedbackTestApp.Event("e", bounce: EmailBounceType.None) },
        { "BounceType", FeedbackTestApp.Event("e", bounce: (EmailBounceType)9) },
        { "BounceType", new EmailFeedbackEvent { Provider = "ses", ProviderEventId = "e", Recipient = "a@example.com", Kind = EmailFeedbackKind.Complained, BounceType = EmailBounceType.Permanent } },
        { "Category", FeedbackTestApp.Event("e", kind: EmailFeedbackKind.Unsubscribed, category: new string('c', 257)) },
    };

    [Theory]
    [MemberData(nameof(InvalidEvents))]
    public async Task Record_InvalidEvent_ThrowsArgumentExceptionNamingTheFieldAndRecordsNothing(string field, EmailFeedbackEvent feedback)
    {
        await using FeedbackTestApp app = new();

        Func<Task> record = async () => await app.Feedback.RecordAsync(feedback);

        (await record.Should().ThrowAsync<ArgumentException>()).Which.Message.Should().Contain(field);
        EmailFeedbackCounts global = await app.Counts.GetAsync(EmailGuardDimension.Global, null);
        (global.Delivered + global.Bounces + global.TransientBounces + global.Complaints + global.Unsubscribes).Should().Be(0);
        (await app.Lists.CountByReasonAsync(EmailGuardListKind.Blocklist)).Should().BeEmpty();
    }

    [Fact]
    public async Task Record_StoreDown_AnswersStoreUnavailableAndNothingIsRemembered()
    {
        SwitchableRateLimitStore? store = null;
        await using FeedbackTestApp app = new(more: s => s.Replace(ServiceDescriptor.Singleton<IRateLimitStore>(sp =>
            store = new SwitchableRateLimitStore(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), sp.GetRequiredService<TimeProvider>())))));
        _ = app.Feedback;
        store!.Down = true;

        EmailFeedbackResult down = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        store.Down = false;
        EmailFeedbackResult retried = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));

        down.Outcome.Should().Be(EmailFeedbackOutcome.StoreUnavailable);
        retried.Outcome.Should().Be(EmailFeedbackOutcome.Recorded, "the failed delivery left no dedup mark behind");
        retried.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
    }

    [Fact]
    public async Task Record_SuppressionAndItsRefundFailInOneOutage_TheRetrySuppressesTheAddress()
    {
        // Arrange: the hard bounce's counts and dedup mark are taken, then the blocklist write fails, and so does the
        // refund that would forget the event (one Redis outage). The provider retries: it was a duplicate, answered 200,
        // and the address was never suppressed, so the app kept mailing a dead address (found by h58's hostile review).
        SwitchableRateLimitStore? store = null;
        HookedLists? lists = null;
        await using FeedbackTestApp app = new(more: s =>
        {
            s.Replace(ServiceDescriptor.Singleton<IRateLimitStore>(sp =>
                store = new SwitchableRateLimitStore(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), sp.GetRequiredService<TimeProvider>()))));
            HookedLists.Register(s, created => lists = created);
        });
        _ = app.Feedback;
        lists!.OnAdd = () =>
        {
            store!.Down = true;
            throw new EmailGuardStoreUnavailableException("the blocklist write timed out");
        };

        // Act
        EmailFeedbackResult first = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        store!.Down = false;
        lists.OnAdd = null;
        EmailFeedbackResult retried = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        EmailFeedbackResult again = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));

        // Assert
        first.Outcome.Should().Be(EmailFeedbackOutcome.StoreUnavailable);
        retried.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate, "its counts were taken once, by the first delivery");
        retried.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        (await app.Lists.CountByReasonAsync(EmailGuardListKind.Blocklist)).Should().Equal(new Dictionary<string, int> { [EmailFeedbackSuppressionReasons.HardBounce] = 1 });
        again.SuppressionReason.Should().BeNull("the suppression is done; a later duplicate does not redo it");
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2921);
    }

    [Fact]
    public async Task Record_DuplicateAfterAnOperatorLiftedTheSuppression_DoesNotPutItBack()
    {
        await using FeedbackTestApp app = new();
        EmailFeedbackEvent bounce = FeedbackTestApp.Event("evt-1");
        (await app.Feedback.RecordAsync(bounce)).SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        EmailGuardListEntry entry = (await app.Lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist })).Items.Should().ContainSingle().Subject;
        (await app.Lists.RemoveAsync(EmailGuardListKind.Blocklist, entry.PartyType, entry.Value)).Should().BeTrue();

        EmailFeedbackResult duplicate = await app.Feedback.RecordAsync(bounce);

        duplicate.Outcome.Should().Be(EmailFeedbackOutcome.Duplicate);
        (await app.Lists.CountByReasonAsync(EmailGuardListKind.Blocklist)).Should().BeEmpty();
    }

    [Fact]
    public async Task Record_StoreHangs_AnswersStoreUnavailableAfterTheTimeout()
    {
        await using FeedbackTestApp app = new(more: s =>
        {
            s.Replace(ServiceDescriptor.Singleton<IRateLimitStore>(new HangingRateLimitStore()));
            s.Configure<StoreResilienceOptions>(o => o.Timeout = TimeSpan.FromMilliseconds(200));
        });

        ValueTask<EmailFeedbackResult> pending = app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        pending.IsCompleted.Should().BeFalse();
        app.Time.Advance(TimeSpan.FromMilliseconds(200));
        EmailFeedbackResult result = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        result.Outcome.Should().Be(EmailFeedbackOutcome.StoreUnavailable);
    }

    [Fact]
    public async Task Record_StoreUnavailable_IsLoggedWithItsEventId()
    {
        SwitchableRateLimitStore? store = null;
        await using FeedbackTestApp app = new(more: s => s.Replace(ServiceDescriptor.Singleton<IRateLimitStore>(sp =>
            store = new SwitchableRateLimitStore(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), sp.GetRequiredService<TimeProvider>())))));
        _ = app.Feedback;
        store!.Down = true;

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));

        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1702);
    }

    [Fact]
    public async Task Check_Allowed_ExposesAnAttributionWithAUniqueSendId()
    {
        await using FeedbackTestApp app = new(guard: o => o.IPv6PrefixLength = 56);

        EmailSendDecision first = await app.CheckAsync("a@example.com");
        EmailSendDecision second = await app.CheckAsync("a@example.com");
        EmailSendDecision v6 = await app.Guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], ClientIp = IPAddress.Parse("2001:db8:1:2ff::9") });
        EmailSendDecision peek = await app.Guard.PeekAsync(FeedbackTestApp.Mail("a@example.com"));

        first.Attribution.Should().BeEquivalentTo(new EmailSendAttribution
        {
            SendId = first.Attribution!.SendId,
            TenantId = "acme",
            UserId = "user-42",
            Sender = "noreply@app.example",
            Category = "signup",
            ClientNetwork = "203.0.113.7/32",
        });
        first.Attribution.SendId.Should().HaveLength(16);
        second.Attribution!.SendId.Should().NotBe(first.Attribution.SendId);
        v6.Attribution!.ClientNetwork.Should().Be("2001:db8:1:200::/56");
        peek.Attribution.Should().BeNull("a peek admits nothing");
    }

    [Fact]
    public async Task Record_BounceOnASendFromASlash24_ChargesTheNetworkTheSendCounted()
    {
        await using FeedbackTestApp app = new(guard: o => o.IPv4PrefixLength = 24);
        EmailSendDecision sent = await app.CheckAsync("victim@example.com");

        // One bounce through the send's own attribution, one from an app that names the client address itself.
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", attribution: sent.Attribution));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", recipient: "other@example.com", attribution: new EmailSendAttribution { ClientNetwork = "203.0.113.7" }));
        IReadOnlyList<EmailFeedbackCounts> status = await app.Counts.GetStatusAsync(new EmailGuardStatusQuery { ClientIp = IPAddress.Parse("203.0.113.99") });

        sent.Attribution!.ClientNetwork.Should().Be("203.0.113.0/24");
        status.Should().ContainSingle(c => c.Dimension == EmailGuardDimension.ClientIp).Which.Should()
            .Match<EmailFeedbackCounts>(c => c.Partition == "203.0.113.0/24" && c.Sends == 1 && c.Bounces == 2);
        (await app.Counts.GetAsync(EmailGuardDimension.ClientIp, "203.0.113.7")).Bounces.Should().Be(2, "an address is read as the guard groups it");
    }

    [Fact]
    public async Task Check_Denied_HasNoAttribution()
    {
        await using FeedbackTestApp app = new(guard: o => o.Recipient.Add(RateLimitRule.PerHour(1)));
        await app.CheckAsync("a@example.com");

        EmailSendDecision denied = await app.CheckAsync("a@example.com");

        denied.IsAllowed.Should().BeFalse();
        denied.Attribution.Should().BeNull();
    }

    [Fact]
    public async Task Record_ByTrackedMessageId_ChargesTheTrackedParties()
    {
        await using FeedbackTestApp app = new();
        EmailSendDecision decision = await app.CheckAsync("victim@example.com");
        await app.Feedback.TrackAsync("ses-msg-1", decision.Attribution!);

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "ses-msg-1"));

        result.Attribution.Should().BeEquivalentTo(decision.Attribution);
        IReadOnlyList<EmailFeedbackCounts> status = await app.Counts.GetStatusAsync(new EmailGuardStatusQuery
        {
            TenantId = "acme",
            UserId = "user-42",
            Sender = "noreply@APP.example",
            Category = "SIGNUP",
            ClientIp = IPAddress.Parse("203.0.113.7"),
        });
        status.Select(c => (c.Dimension, c.Partition, c.Bounces)).Should().Equal(
            (EmailGuardDimension.Global, null, 1L),
            (EmailGuardDimension.Tenant, "acme", 1L),
            (EmailGuardDimension.User, "user-42", 1L),
            (EmailGuardDimension.Sender, "noreply@app.example", 1L),
            (EmailGuardDimension.Category, "signup", 1L),
            (EmailGuardDimension.ClientIp, "203.0.113.7/32", 1L));
        status.Should().OnlyContain(c => c.Delivered == 0 && c.Complaints == 0 && c.TransientBounces == 0 && c.Window == TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task Record_TagsNamingAnotherTenant_OnAMessageTheGuardTracked_ChargesTheTrackedSend()
    {
        // A rogue tenant's mail carried tags naming a victim tenant (an app that passes its customers' own headers to the
        // provider): its bounce echoes them, but the guard recorded at send time whose message it was.
        await using FeedbackTestApp app = new();
        EmailSendAttribution rogue = new() { TenantId = "rogue", UserId = "rogue-user" };
        EmailSendAttribution forged = new() { TenantId = "victim", UserId = "victim-user" };
        await app.Feedback.TrackForProviderAsync("mailgun", "msg-1", rogue);

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "mailgun", attribution: forged));

        result.Attribution!.TenantId.Should().Be("rogue", "the send-time record wins over the tags the event echoes");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "victim")).Bounces.Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "victim-user")).Bounces.Should().Be(0);
    }

    [Fact]
    public async Task Record_TagsNamingAnotherTenantPool_OnAMessageTheGuardTracked_ChargesTheTrackedPool()
    {
        // A rogue trial tenant's mail carried tags naming the paid pool (and a paid tenant): its bounce echoes them, but
        // the guard recorded at send time which pool the mail counted in, so the paid pool's ratio stays clean.
        await using FeedbackTestApp app = new();
        EmailSendAttribution rogue = new() { TenantId = "rogue", TenantPool = "trial" };
        EmailSendAttribution forged = new() { TenantId = "victim", TenantPool = "paid" };
        await app.Feedback.TrackForProviderAsync("mailgun", "msg-1", rogue);

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "mailgun", attribution: forged));

        result.Attribution!.TenantPool.Should().Be("trial", "the send-time record wins over the tags the event echoes");
        IReadOnlyList<EmailFeedbackCounts> trial = await app.Counts.GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "trial" });
        IReadOnlyList<EmailFeedbackCounts> paid = await app.Counts.GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "paid" });
        trial.Single(c => c.Partition == "pool:trial").Bounces.Should().Be(1);
        paid.Single(c => c.Partition == "pool:paid").Bounces.Should().Be(0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Record_MessageIdTrackedForARogueTenantAndForAThrowawayOne_TheRoguesBouncesAreChargedToTheRogue(bool throwawayFirst)
    {
        // Mailgun takes the Message-ID a customer set for its id. A rogue tenant sends its mail under one id, then one mail
        // of a throwaway tenant under the same id: the mapping named the throwaway tenant, and every bounce of the rogue's
        // mail, whatever its tags said, was charged there while the rogue's own breaker stayed clear. Either order.
        await using FeedbackTestApp app = new();
        EmailSendAttribution rogue = new() { TenantId = "rogue", UserId = "rogue-user", SendId = "send-rogue" };
        EmailSendAttribution throwaway = new() { TenantId = "throwaway", UserId = "throwaway-user", SendId = "send-throwaway" };
        foreach (EmailSendAttribution send in throwawayFirst ? new[] { throwaway, rogue } : [rogue, throwaway])
        {
            await app.Feedback.TrackForProviderAsync("mailgun", "<chosen@customer.example>", send);
        }

        for (int i = 0; i < 4; i++)
        {
            (await app.Feedback.RecordAsync(FeedbackTestApp.Event($"evt-{i}", recipient: $"victim{i}@example.com", messageId: "chosen@customer.example", provider: "mailgun", attribution: rogue)))
                .Attribution!.TenantId.Should().Be("rogue");
        }

        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(4, "the guarded sender wrote this mail's tags, and they name the rogue");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "throwaway")).Bounces.Should().Be(0);
        (await app.Counts.GetAsync(EmailGuardDimension.User, "rogue-user")).Bounces.Should().Be(4);
    }

    [Fact]
    public async Task Record_MessageIdTrackedTwiceForTheSameParties_TheMappingStillWinsOverForgedTags()
    {
        // A queue's resend of one mail under its Message-ID is another send of the same parties: the id is not shared, and
        // tags naming a victim tenant are still overruled.
        await using FeedbackTestApp app = new();
        await app.Feedback.TrackForProviderAsync("mailgun", "msg-1", new EmailSendAttribution { TenantId = "rogue", UserId = "rogue-user", SendId = "send-1" });
        await app.Feedback.TrackForProviderAsync("mailgun", "msg-1", new EmailSendAttribution { TenantId = "rogue", UserId = "rogue-user", SendId = "send-2" });
        EmailSendAttribution forged = new() { TenantId = "victim", UserId = "victim-user" };

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "mailgun", attribution: forged));

        result.Attribution!.TenantId.Should().Be("rogue");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "victim")).Bounces.Should().Be(0);
    }

    [Fact]
    public async Task Record_TaggedEvent_WhoseMessageNoSendTracked_ChargesTheTags()
    {
        await using FeedbackTestApp app = new();
        EmailSendAttribution tagged = new() { TenantId = "acme", UserId = "user-42" };

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "untracked", provider: "mailgun", attribution: tagged));

        result.Attribution!.TenantId.Should().Be("acme");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task Record_TaggedEvent_MappingStoreDown_TheTagsStandIn()
    {
        await using FeedbackTestApp app = new(more: s => s.Replace(ServiceDescriptor.Singleton<IEmailGuardKeyValueStore>(new DownKeyValueStore())));
        EmailSendAttribution tagged = new() { TenantId = "acme", UserId = "user-42" };

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "mailgun", attribution: tagged));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded, "the counters' store is up, and the tags say whose mail it was");
        result.Attribution!.TenantId.Should().Be("acme");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task Record_SameMessageIdTrackedForTwoProviders_EachProvidersEventFindsItsOwnSend()
    {
        // Providers choose their ids independently: an SES send and a Mailgun send may carry the same one.
        await using FeedbackTestApp app = new();
        EmailSendAttribution ses = new() { TenantId = "ses-tenant", UserId = "ses-user" };
        EmailSendAttribution mailgun = new() { TenantId = "mailgun-tenant", UserId = "mailgun-user" };
        await app.Feedback.TrackForProviderAsync("ses", "msg-1", ses);
        await app.Feedback.TrackForProviderAsync("mailgun", "msg-1", mailgun);

        EmailFeedbackResult fromSes = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "ses"));
        EmailFeedbackResult fromMailgun = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", messageId: "msg-1", provider: "mailgun"));
        EmailFeedbackResult fromPostmark = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-3", messageId: "msg-1", provider: "postmark"));

        fromSes.Attribution!.TenantId.Should().Be("ses-tenant", "an SES bounce is charged to the SES send, not to the Mailgun send tracked after it");
        fromMailgun.Attribution!.TenantId.Should().Be("mailgun-tenant");
        fromPostmark.Attribution.Should().BeNull("no Postmark send was tracked under that id");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "ses-tenant")).Bounces.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "mailgun-tenant")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task Record_MessageIdTrackedInAngleBrackets_FoundByTheEventThatNamesItWithout()
    {
        // Mailgun's send API answers the id as a Message-ID header writes it, <...>; its events name it without them.
        await using FeedbackTestApp app = new();
        await app.Feedback.TrackForProviderAsync("mailgun", "<20260302000000.1.ABCDEF@mg.example.com>", new EmailSendAttribution { TenantId = "acme" });
        await app.Feedback.TrackAsync("<msg-2@example.com>", new EmailSendAttribution { TenantId = "beta" });

        EmailFeedbackResult tracked = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "20260302000000.1.ABCDEF@mg.example.com", provider: "mailgun"));
        EmailFeedbackResult untagged = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", messageId: "msg-2@example.com", provider: "mailgun"));

        tracked.Attribution!.TenantId.Should().Be("acme");
        untagged.Attribution!.TenantId.Should().Be("beta");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Theory]
    [InlineData("ses", "Ok 010201936a2f4c1e-5b2a8c1d-6f3e-4b7a-9c0d-2e1f3a4b5c6d-000000")]
    [InlineData("ses", "<010201936a2f4c1e-5b2a8c1d-6f3e-4b7a-9c0d-2e1f3a4b5c6d-000000@eu-west-1.amazonses.com>")]
    [InlineData("ses", "010201936a2f4c1e-5b2a8c1d-6f3e-4b7a-9c0d-2e1f3a4b5c6d-000000@email.amazonses.com")]
    [InlineData(null, "<010201936a2f4c1e-5b2a8c1d-6f3e-4b7a-9c0d-2e1f3a4b5c6d-000000@email.amazonses.com>")]
    public async Task Record_SesIdTrackedAsItsSmtpReplyOrMessageIdHeader_FoundByTheEventThatNamesTheSesId(string? provider, string tracked)
    {
        // SES's SMTP interface answers "250 Ok <id>" and writes the Message-ID <id@region.amazonses.com>; its events name
        // the message by the id alone (mail.messageId). A transport that tracks either form is found.
        await using FeedbackTestApp app = new();
        var attribution = new EmailSendAttribution { TenantId = "acme" };
        await (provider is null ? app.Feedback.TrackAsync(tracked, attribution) : app.Feedback.TrackForProviderAsync(provider, tracked, attribution));

        EmailFeedbackResult result = await app.Feedback.RecordAsync(
            FeedbackTestApp.Event("evt-1", messageId: "010201936a2f4c1e-5b2a8c1d-6f3e-4b7a-9c0d-2e1f3a4b5c6d-000000", provider: "ses"));

        result.Attribution!.TenantId.Should().Be("acme");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task Record_MessageIdNoTrackedSendHas_WhileTheAppTracks_WarnsOncePerProviderAnHour_QuotingTheId()
    {
        // A transport tracking another form of the id than the events name: every bounce counts for all mail only.
        await using FeedbackTestApp app = new();
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-0", messageId: "before-any-tracking", provider: "postmark"));
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2978, "an app that tracks nothing has nothing to fix");

        await app.Feedback.TrackForProviderAsync("postmark", "{b7bc2f4a-e38e-4336-af7d-e6c392c2f817}", new EmailSendAttribution { TenantId = "acme" });
        for (int i = 1; i <= 3; i++)
        {
            await app.Feedback.RecordAsync(FeedbackTestApp.Event($"evt-{i}", messageId: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817", provider: "postmark"));
        }

        app.Logs.GetSnapshot().Where(r => r.Id.Id == 2978).Should().ContainSingle()
            .Which.Message.Should().Contain("postmark").And.Contain("'b7bc2f4a-e38e-4336-af7d-e6c392c2f817'");
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(0);

        app.Time.Advance(TimeSpan.FromHours(1));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-4", messageId: "another-id", provider: "postmark"));
        await app.Feedback.TrackForProviderAsync("postmark", "tracked-right", new EmailSendAttribution { TenantId = "acme" });
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-5", messageId: "tracked-right", provider: "postmark"));
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 2978).Should().HaveCount(2, "once more an hour later; a matched id logs nothing");
    }

    [Theory]
    [InlineData("20260302000000.1.ABCDEF@mg.example.com")]
    [InlineData("Okra-1@example.com")]
    [InlineData("abc@amazonses.com.example.net")]
    [InlineData("ok")]
    public void Canonical_AnIdInNoneOfTheForms_IsKeptAsItIs(string id)
        => FeedbackKeys.Canonical(id).Should().BeSameAs(id);

    [Fact]
    public async Task Record_MessageIdTrackedWithoutProvider_FoundByEveryProvidersEvent()
    {
        // A mapping written before mappings named their provider (or by a transport that names none) is still found.
        await using FeedbackTestApp app = new();
        await app.Feedback.TrackAsync("msg-1", new EmailSendAttribution { TenantId = "acme" });

        EmailFeedbackResult fromSes = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "ses"));
        EmailFeedbackResult fromMailgun = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", messageId: "msg-1", provider: "mailgun"));

        fromSes.Attribution!.TenantId.Should().Be("acme");
        fromMailgun.Attribution!.TenantId.Should().Be("acme");
    }

    [Theory]
    [InlineData("SES")]
    [InlineData("")]
    [InlineData("ses:x")]
    public async Task TrackForProvider_InvalidProviderName_IsIgnoredAndLogged_TheIdIsEveryProviders(string provider)
    {
        // The mail is sent when its id is tracked: an exception here gave back the permits of a sent mail.
        await using FeedbackTestApp app = new();

        await app.Feedback.TrackForProviderAsync(provider, "msg-1", new EmailSendAttribution { TenantId = "acme" });
        await app.Feedback.TrackForProviderAsync(provider, "msg-2", new EmailSendAttribution { TenantId = "acme" });
        EmailFeedbackResult bounce = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "msg-1", provider: "mailgun"));

        bounce.Attribution!.TenantId.Should().Be("acme");
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2985, "at most once an hour")
            .Which.Message.Should().Contain("'" + provider + "'").And.Contain("stays counted");
    }

    [Fact]
    public async Task Record_UnknownMessageIdAndNoTags_CountsForAllMailOnly()
    {
        await using FeedbackTestApp app = new();

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Complained, messageId: "unknown"));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        result.Attribution.Should().BeNull();
        (await app.Counts.GetAsync(EmailGuardDimension.Global, null)).Complaints.Should().Be(1);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Complaints.Should().Be(0);
    }

    [Fact]
    public async Task Record_HostileAttributionValues_AreNotCountedAndDoNotThrow()
    {
        await using FeedbackTestApp app = new();
        EmailSendAttribution hostile = new() { TenantId = "acme", Sender = "not an address", ClientNetwork = "10.0.0.1/99", Category = new string('x', 300) };

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", attribution: hostile));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
        Func<Task> badNetwork = async () => await app.Counts.GetAsync(EmailGuardDimension.ClientIp, "10.0.0.1/99");
        await badNetwork.Should().ThrowAsync<ArgumentException>();
        Func<Task> badDimension = async () => await app.Counts.GetAsync(EmailGuardDimension.Recipient, "a@example.com");
        await badDimension.Should().ThrowAsync<ArgumentException>();
    }

    [Fact]
    public async Task Counts_OutsideTheWindow_AreGone()
    {
        await using FeedbackTestApp app = new(o => o.CountWindow = TimeSpan.FromHours(1));
        EmailSendAttribution attribution = new() { TenantId = "acme" };
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", EmailFeedbackKind.Delivered, attribution: attribution));
        app.Time.Advance(TimeSpan.FromMinutes(30));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", EmailFeedbackKind.Delivered, attribution: attribution));
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Delivered.Should().Be(2);

        app.Time.Advance(TimeSpan.FromMinutes(70));

        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Delivered.Should().Be(0);
    }

    [Fact]
    public async Task Metric_EachRecording_IsCountedByProviderKindAndOutcome()
    {
        using TestMeterFactory meterFactory = new();
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IMeterFactory>(meterFactory));
        using MetricCollector<long> feedback = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.FeedbackInstrument);

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", EmailFeedbackKind.Complained, provider: "mailgun"));

        feedback.GetMeasurementSnapshot()
            .Select(m => ((string?)m.Tags["emailguard.feedback.provider"], (string?)m.Tags["emailguard.feedback.kind"], (string?)m.Tags["emailguard.outcome"], m.Value))
            .Should().Equal(("ses", "bounced", "recorded", 1L), ("ses", "bounced", "duplicate", 1L), ("mailgun", "complained", "recorded", 1L));
    }

    [Fact]
    public async Task Events_BounceComplaintAndSuppression_AreRaisedWithTheirArguments()
    {
        List<string> raised = [];
        await using FeedbackTestApp app = new(o =>
        {
            o.Events.OnBounce = a =>
            {
                raised.Add($"bounce {a.Recipient} {a.Event.BounceType} {a.Attribution?.TenantId}");
                return ValueTask.CompletedTask;
            };
            o.Events.OnComplaint = a =>
            {
                raised.Add($"complaint {a.Recipient}");
                return ValueTask.CompletedTask;
            };
            o.Events.OnSuppressed = async a =>
            {
                await Task.Yield();
                raised.Add($"suppressed {a.Recipient} {a.Reason} {a.Category} {a.Entry.ExpiresAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "never"}");
            };
        });
        EmailSendAttribution attribution = new() { TenantId = "acme", Category = "news" };

        await app.Feedback.RecordAsync(FeedbackTestApp.Event("e1", recipient: "Hard@Example.com", attribution: attribution));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("e2", EmailFeedbackKind.Complained, recipient: "angry@example.com"));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("e3", EmailFeedbackKind.Unsubscribed, recipient: "bye@example.com", attribution: attribution));
        await app.Feedback.RecordAsync(FeedbackTestApp.Event("e4", EmailFeedbackKind.Delivered, recipient: "fine@example.com"));

        raised.Should().Equal(
            "bounce hard@example.com Permanent acme",
            "suppressed hard@example.com hard_bounce  never",
            "complaint angry@example.com",
            "suppressed angry@example.com complaint  never",
            "suppressed bye@example.com unsubscribe news never");
    }

    [Fact]
    public async Task Events_ThrowingCallback_IsLoggedAndTheEventStillRecorded()
    {
        await using FeedbackTestApp app = new(o => o.Events.OnBounce = _ => throw new InvalidOperationException("alerting is down"));

        EmailFeedbackResult result = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1"));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        result.SuppressionReason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1704);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1703);
    }

    [Fact]
    public async Task Options_InvalidSettings_FailAtStartupWithTheirPaths()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?>
        {
            ["EmailGuard:Feedback:DeduplicationWindow"] = "00:00:00.5",
            ["EmailGuard:Feedback:ComplaintSuppression"] = "-1.00:00:00",
            ["EmailGuard:Feedback:TransientBounceThreshold"] = "-1",
        });

        Action start = () => app.Services.GetRequiredService<IStartupValidator>().Validate();

        string message = start.Should().Throw<OptionsValidationException>().Which.Message;
        message.Should().Contain("EmailGuard:Feedback:DeduplicationWindow").And.Contain("EmailGuard:Feedback:ComplaintSuppression")
            .And.Contain("EmailGuard:Feedback:TransientBounceThreshold");
    }

    [Fact]
    public async Task Options_MisspeltSetting_FailsAtStartup()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?> { ["EmailGuard:Feedback:AttributionLifetme"] = "1d" });

        Action start = () => app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value.Should().NotBeNull();

        start.Should().Throw<Exception>().Which.Message.Should().Contain("EmailGuard:Feedback:AttributionLifetme");
    }

    [Fact]
    public async Task Options_FromConfiguration_AreBound()
    {
        await using FeedbackTestApp app = new(configuration: new Dictionary<string, string?>
        {
            ["EmailGuard:Feedback:AttributionLifetime"] = "2d",
            ["EmailGuard:Feedback:ComplaintSuppression"] = "365d",
        });

        EmailFeedbackOptions options = app.Services.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value;

        options.AttributionLifetime.Should().Be(TimeSpan.FromDays(2));
        options.ComplaintSuppression.Should().Be(TimeSpan.FromDays(365));
        options.HardBounceSuppression.Should().BeNull();
    }

    private sealed class HangingRateLimitStore : IRateLimitStore
    {
        public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource<RateLimitDecision>().Task);

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource<RateLimitDecision>().Task);

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource<bool>().Task);

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => new(new TaskCompletionSource().Task);
    }

    /// <summary>A key-value store that cannot be reached.</summary>
    private sealed class DownKeyValueStore : IEmailGuardKeyValueStore
    {
        public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => throw new IOException("down");

        public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken = default) => throw new IOException("down");

        public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken = default) => throw new IOException("down");

        public ValueTask<bool> RemoveAsync(string key, string expectedValue, CancellationToken cancellationToken = default) => throw new IOException("down");
    }
}
