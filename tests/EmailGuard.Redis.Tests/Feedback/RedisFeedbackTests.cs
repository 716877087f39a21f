using System.Net;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Feedback;

/// <summary>Feedback shared by app instances through one Redis: dedup, attribution and suppression across instances.</summary>
/// <remarks>Runs on one Redis node, on Garnet and on a Redis Cluster (<c>RedisClusterFeedbackTests</c>).</remarks>
[Collection(RedisServerFixture.CollectionName)]
public class RedisFeedbackTests : IAsyncLifetime
{
    private readonly Func<ConnectionMultiplexer> _connect;

    public RedisFeedbackTests(RedisServerFixture redis)
        : this(redis.CreateMultiplexer)
    {
    }

    /// <summary>For the suites on other servers: how to connect an instance's multiplexer.</summary>
    protected RedisFeedbackTests(Func<ConnectionMultiplexer> connect) => _connect = connect;

    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly FakeTimeProvider _time = new(Start);
    private readonly List<ServiceProvider> _instances = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ServiceProvider instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    [Fact]
    public async Task Record_FiftyConcurrentDeliveriesOverFiveMultiplexers_RecordOnce()
    {
        int suppressed = 0;
        ServiceProvider[] instances = [.. Enumerable.Range(0, 5).Select(_ => Instance(feedback: o => o.Events.OnSuppressed = _ =>
        {
            Interlocked.Increment(ref suppressed);
            return ValueTask.CompletedTask;
        }))];
        EmailFeedbackEvent complaint = new()
        {
            Provider = "sendgrid",
            ProviderEventId = "sg-event-1",
            Recipient = "angry@example.com",
            Kind = EmailFeedbackKind.Complained,
            Attribution = new EmailSendAttribution { TenantId = "acme" },
        };
        // An async gate, not a Barrier: 50 thread-pool threads blocked on a barrier starve every other test in the
        // process until the pool has grown by 50 threads (a cluster test timed out behind it in CI).
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<EmailFeedbackResult>[] calls = [.. Enumerable.Range(0, 50).Select(i => Task.Run(async () =>
        {
            await gate.Task;
            return await instances[i % 5].GetRequiredService<IEmailGuardFeedback>().RecordAsync(complaint);
        }))];
        gate.SetResult();
        EmailFeedbackResult[] results = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(60));

        results.Count(r => r.Outcome == EmailFeedbackOutcome.Recorded).Should().Be(1);
        results.Count(r => r.Outcome == EmailFeedbackOutcome.Duplicate).Should().Be(49);
        suppressed.Should().Be(1);
        (await instances[3].GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "acme")).Complaints.Should().Be(1);
        (await instances[4].GetRequiredService<IEmailGuardLists>().CountByReasonAsync(EmailGuardListKind.Blocklist))
            .Should().BeEquivalentTo(new Dictionary<string, int> { ["complaint"] = 1 });
    }

    [Fact]
    public async Task Record_MessageSentByOneInstance_FedBackToAnother_ReachesTheRightParties()
    {
        ServiceProvider sending = Instance(more: s => s.AddSingleton<IEmailTransport>(new IdTransport("0100018c-ses-id")));
        ServiceProvider receiving = Instance();
        OutboundEmail mail = new()
        {
            To = ["ghost@example.com"],
            Sender = "noreply@app.example",
            TenantId = "trial-tenant",
            UserId = "bot-user",
            Category = "signup",
            ClientIp = IPAddress.Parse("2001:db8:1:2::9"),
        };

        GuardedSendResult sent = await sending.GetRequiredService<IGuardedEmailSender>().TrySendAsync(mail, new EmailContent { Subject = "Confirm" });
        EmailFeedbackResult result = await receiving.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "sns-1",
            ProviderMessageId = "0100018c-ses-id",
            Recipient = "ghost@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        });

        sent.Sent.Should().BeTrue();
        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        result.Attribution.Should().BeEquivalentTo(sent.Decision.Attribution);
        result.Attribution!.TenantId.Should().Be("trial-tenant");
        result.Attribution.UserId.Should().Be("bot-user");
        result.Attribution.ClientNetwork.Should().Be("2001:db8:1:2::/64");
        IReadOnlyList<EmailFeedbackCounts> counts = await sending.GetRequiredService<IEmailFeedbackCounts>().GetStatusAsync(new EmailGuardStatusQuery
        {
            TenantId = "trial-tenant",
            UserId = "bot-user",
            ClientIp = IPAddress.Parse("2001:db8:1:2:ffff::1"),
        });
        counts.Select(c => (c.Dimension, c.Bounces)).Should().Equal(
            (EmailGuardDimension.Global, 1L), (EmailGuardDimension.Tenant, 1L), (EmailGuardDimension.User, 1L), (EmailGuardDimension.ClientIp, 1L));
    }

    [Fact]
    public async Task Record_EchoedTagsOnly_ReachTheRightPartiesOnAnotherInstance()
    {
        ServiceProvider sending = Instance();
        ServiceProvider receiving = Instance();
        EmailSendDecision decision = await sending.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail
        {
            To = ["ghost@example.com"],
            TenantId = "acme",
            UserId = "u1",
            ClientIp = IPAddress.Parse("198.51.100.23"),
        });
        IReadOnlyDictionary<string, string> echoed = EmailFeedbackTags.Write(decision.Attribution!);
        EmailFeedbackTags.TryRead(echoed, out EmailSendAttribution? attribution).Should().BeTrue();

        await receiving.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "mailgun",
            ProviderEventId = "mg-1",
            Recipient = "ghost@example.com",
            Kind = EmailFeedbackKind.Complained,
            Attribution = attribution,
        });

        (await sending.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.ClientIp, "198.51.100.23/32")).Complaints.Should().Be(1);
        (await sending.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.User, "u1")).Complaints.Should().Be(1);
    }

    [Fact]
    public async Task Suppression_NextCheckOnTheRecordingInstance_AndOthersAtTheirRefresh()
    {
        ServiceProvider recording = Instance();
        ServiceProvider other = Instance();
        OutboundEmail mail = new() { To = ["victim@example.com"], TenantId = "acme", Category = "newsletter" };
        (await other.GetRequiredService<IEmailSendGuard>().CheckAsync(mail)).IsAllowed.Should().BeTrue();

        await recording.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "postmark",
            ProviderEventId = "pm-1",
            Recipient = "victim@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
        });

        (await recording.GetRequiredService<IEmailSendGuard>().CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted,
            "the instance that recorded the bounce reloads its lists at once, although its refresh interval is an hour");
        _time.Advance(TimeSpan.FromHours(1));
        await other.GetRequiredService<GuardStateCache>().StartRefresh();
        (await other.GetRequiredService<IEmailSendGuard>().CheckAsync(mail)).Reason.Should().Be(EmailSendReason.Blocklisted);
    }

    [Fact]
    public async Task Unsubscribe_OnRedis_SuppressesTheCategoryAtTheNextCheck()
    {
        ServiceProvider app = Instance();
        IEmailSendGuard guard = app.GetRequiredService<IEmailSendGuard>();

        await app.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "sendgrid",
            ProviderEventId = "sg-u-1",
            Recipient = "reader@example.com",
            Kind = EmailFeedbackKind.Unsubscribed,
            Category = "Newsletter",
        });

        (await guard.CheckAsync(new OutboundEmail { To = ["reader@example.com"], Category = "newsletter" })).Reason.Should().Be(EmailSendReason.Blocklisted);
        (await guard.CheckAsync(new OutboundEmail { To = ["reader@example.com"], Category = "password-reset" })).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task TransientBounces_FromThreeInstances_SuppressAtTheThird()
    {
        ServiceProvider[] instances = [Instance(), Instance(), Instance()];
        EmailFeedbackResult[] results = new EmailFeedbackResult[3];

        for (int i = 0; i < 3; i++)
        {
            results[i] = await instances[i].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"soft-{i}",
                Recipient = "full-mailbox@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Transient,
            });
        }

        results.Select(r => r.SuppressionReason).Should().Equal(null, null, EmailFeedbackSuppressionReasons.TransientBounces);
    }

    [Fact]
    public async Task RejectionsForTheMessage_FromThreeInstances_SuppressNothing_AndCountForTheSender()
    {
        // A rogue tenant's spam, refused for its content and fed back through three instances, suppressed its recipient
        // for every tenant at the third (the soft-bounce threshold).
        ServiceProvider[] instances = [Instance(), Instance(), Instance()];

        for (int i = 0; i < 3; i++)
        {
            (await instances[i].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "ses",
                ProviderEventId = $"content-{i}",
                Recipient = "customer@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Transient,
                RejectedForMessage = true,
                Attribution = new EmailSendAttribution { TenantId = "rogue" },
            })).SuppressionReason.Should().BeNull();
        }

        (await instances[0].GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "customer@example.com"))
            .Should().BeNull();
        (await instances[1].GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["customer@example.com"], TenantId = "good" })).IsAllowed.Should().BeTrue();
        EmailFeedbackCounts counts = await instances[2].GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        (counts.Bounces, counts.TransientBounces).Should().Be((3, 0), "a refusal of the message counts against its sender as a bounce");
    }

    [Fact]
    public async Task RefusalOfOneMessage_EveryAttemptPostedToAnotherInstanceAtOnce_CountsOneBounce()
    {
        // A provider retrying a refused message posts each attempt with an event id of its own; spread over three
        // instances at once, the attempts of one message to one recipient count one bounce, on one instance's word.
        ServiceProvider[] instances = [Instance(), Instance(), Instance()];

        EmailFeedbackResult[] results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            instances[i % 3].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "mailgun",
                ProviderEventId = $"attempt-{i}",
                ProviderMessageId = "<20260302.9.ROGUE@mg.example.com>",
                Recipient = "customer@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Transient,
                RejectedForMessage = true,
                Attribution = new EmailSendAttribution { TenantId = "rogue" },
            }).AsTask()));

        results.Count(r => r.Outcome == EmailFeedbackOutcome.Recorded).Should().Be(1);
        results.Count(r => r.Outcome == EmailFeedbackOutcome.Duplicate).Should().Be(11);
        (await instances[2].GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task MessageIdsTrackedForTwoTenantsOnTwoInstancesAtOnce_EachBounceIsChargedByItsOwnTags()
    {
        // A customer-chosen Message-ID (Mailgun's id) tracked at once for a rogue tenant's mail on one instance and for a
        // throwaway tenant's on another: whichever write lands last, the id is shared, and the rogue's bounces are its own.
        ServiceProvider[] instances = [Instance(), Instance()];
        EmailSendAttribution rogue = new() { TenantId = "rogue", SendId = "send-rogue" };
        EmailSendAttribution throwaway = new() { TenantId = "throwaway", SendId = "send-throwaway" };

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            instances[i % 2].GetRequiredService<IEmailGuardFeedback>().TrackForProviderAsync("mailgun", $"<chosen.{i / 2}@customer.example>", i % 2 == 0 ? rogue : throwaway).AsTask())));
        EmailFeedbackResult[] results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            instances[i % 2].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "mailgun",
                ProviderEventId = $"bounce-{i}",
                ProviderMessageId = $"chosen.{i}@customer.example",
                Recipient = $"victim{i}@example.com",
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Permanent,
                Attribution = rogue,
            }).AsTask())));

        results.Should().OnlyContain(r => r.Outcome == EmailFeedbackOutcome.Recorded && r.Attribution!.TenantId == "rogue");
        IEmailFeedbackCounts counts = instances[1].GetRequiredService<IEmailFeedbackCounts>();
        (await counts.GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(20);
        (await counts.GetAsync(EmailGuardDimension.Tenant, "throwaway")).Bounces.Should().Be(0);
    }

    [Fact]
    public async Task RefusalsDuringARollingUpgrade_AttemptsPostedToOldAndNewInstancesAtOnce_CountOneBounceEach()
    {
        // Builds before the per-mail refusal key marked a refusal under provider, message id and folded recipient. During
        // a rolling upgrade a provider's attempts at one refused mail land on old and new instances alike: ten refused
        // mails, twelve attempts each, half posted to three new instances and half recorded as an old instance records.
        ServiceProvider[] instances = [Instance(), Instance(), Instance()];
        IRateLimitStore store = instances[0].GetRequiredService<IRateLimitStore>();
        EmailFeedbackOptions defaults = new();
        RateLimitRule dedup = RateLimitRule.SlidingWindow(1, defaults.DeduplicationWindow, EmailGuardFeedback.SegmentsFor(defaults.DeduplicationWindow));
        RateLimitRule count = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, defaults.CountWindow, EmailGuardFeedback.SegmentsFor(defaults.CountWindow));

        async Task<bool> AttemptAsync(int mail, int attempt)
        {
            string messageId = $"<20260302.{mail}.ROGUE@mg.example.com>";
            if (attempt % 2 == 0)
            {
                EmailFeedbackResult result = await instances[attempt % 3].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
                {
                    Provider = "mailgun",
                    ProviderEventId = $"attempt-{mail}-{attempt}",
                    ProviderMessageId = messageId,
                    Recipient = "Customer@Example.com",
                    Kind = EmailFeedbackKind.Bounced,
                    BounceType = EmailBounceType.Transient,
                    RejectedForMessage = true,
                    Attribution = new EmailSendAttribution { TenantId = "rogue", SendId = $"send-{mail}" },
                });
                result.Outcome.Should().BeOneOf(EmailFeedbackOutcome.Recorded, EmailFeedbackOutcome.Duplicate);
                return result.Outcome == EmailFeedbackOutcome.Recorded;
            }

            RateLimitRequest[] old =
            [
                new(FeedbackKeys.Event("mailgun", $"attempt-{mail}-{attempt}"), dedup),
                new("fb:rm:mailgun:" + StoreKeyEncoding.Hash(FeedbackKeys.Canonical(messageId) + " customer@example.com"), dedup),
                new(FeedbackKeys.Count('b', EmailGuardDimension.Tenant, "rogue"), count),
            ];
            return (await store.AcquireAsync(old, Memory<RateLimitEntry>.Empty)).IsAllowed;
        }

        bool[] counted = await Task.WhenAll(Enumerable.Range(0, 120).Select(i => Task.Run(() => AttemptAsync(i % 10, i / 10))));

        counted.Count(c => c).Should().Be(10, "one per refused mail, on whichever build saw it first");
        (await instances[2].GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(10);
    }

    [Fact]
    public async Task RefusalsOfOneMessageToSeveralSpellingsOfAMailbox_AttemptsPostedToThreeInstancesAtOnce_CountOneBouncePerSpelling()
    {
        // One message to five spellings of one mailbox is five mails to the provider and five sends to the ratios; each
        // refused mail's attempts (its address in any case) are posted to three instances at once: five bounces, not one.
        ServiceProvider[] instances = [Instance(), Instance(), Instance()];
        string[] spellings = ["customer@gmail.com", "cus.tomer@gmail.com", "customer+1@gmail.com", "customer+2@googlemail.com", "c.ustomer+3@gmail.com"];

        EmailFeedbackResult[] results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            instances[i % 3].GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
            {
                Provider = "mailgun",
                ProviderEventId = $"attempt-{i}",
                ProviderMessageId = "<20260302.9.ROGUE@mg.example.com>",
                Recipient = i % 2 == 0 ? spellings[i % 5] : spellings[i % 5].ToUpperInvariant(),
                Kind = EmailFeedbackKind.Bounced,
                BounceType = EmailBounceType.Transient,
                RejectedForMessage = true,
                Attribution = new EmailSendAttribution { TenantId = "rogue" },
            }).AsTask()));

        results.Count(r => r.Outcome == EmailFeedbackOutcome.Recorded).Should().Be(5, "one per mail");
        results.Count(r => r.Outcome == EmailFeedbackOutcome.Duplicate).Should().Be(15);
        (await instances[2].GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue")).Bounces.Should().Be(5);
    }

    [Fact]
    public async Task Send_IdsOutsideTheKeyValueAlphabet_AreMappedAndAttributedOnAnotherInstance()
    {
        // The mapping is a key-value entry (printable ASCII, at most 4,096 characters): ids with spaces, accents, CJK and
        // emoji must still be written, and come back whole on the instance that receives the feedback.
        string tenant = "Müller & Söhne GmbH 租户 🚀";
        string user = "user name with spaces\tand a tab";
        ServiceProvider sending = Instance(more: s => s.AddSingleton<IEmailTransport>(new IdTransport("<unicode@mail.example>")));
        ServiceProvider receiving = Instance();

        GuardedSendResult sent = await sending.GetRequiredService<IGuardedEmailSender>().TrySendAsync(
            new OutboundEmail { To = ["ghost@example.com"], TenantId = tenant, UserId = user, Category = "späti" }, new EmailContent { Subject = "Hi" });
        EmailFeedbackResult result = await receiving.GetRequiredService<IEmailGuardFeedback>().RecordAsync(Bounce("u-1", "<unicode@mail.example>"));

        sent.Sent.Should().BeTrue();
        result.Attribution.Should().BeEquivalentTo(new { TenantId = tenant, UserId = user, Category = "späti" });
    }

    [Fact]
    public async Task Track_AttributionLongerThanAValue_KeepsWhatFits_InsteadOfFailing()
    {
        // The send guard refuses ids of more than 192 UTF-8 bytes, but an attribution the app builds itself carries any,
        // and a value is bounded: a tag too long to be read back is left out.
        ServiceProvider app = Instance();
        EmailSendAttribution attribution = new()
        {
            TenantId = new string('é', 3_000),
            UserId = new string('u', 2_900),
            EndpointPolicy = new string('p', 192),
            Category = "signup",
            ClientNetwork = "203.0.113.7/32",
        };

        await app.GetRequiredService<IEmailGuardFeedback>().TrackAsync("long-ids", attribution);
        EmailFeedbackResult result = await app.GetRequiredService<IEmailGuardFeedback>().RecordAsync(Bounce("l-1", "long-ids"));

        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
        result.Attribution.Should().BeEquivalentTo(new { TenantId = (string?)null, UserId = (string?)null, Category = "signup", ClientNetwork = "203.0.113.7/32", EndpointPolicy = attribution.EndpointPolicy });
    }

    [Fact]
    public async Task FanOut_PartiesAndRecipientsOutsideTheKeyValueAlphabet_AreCounted()
    {
        ServiceProvider[] instances = [Instance(more: s => s.Configure<SendGuardOptions>(o => o.FanOut.NewRecipients = 5)), Instance()];
        string user = "用户 Müller " + new string('z', 40);

        EmailSendDecision[] decisions = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            instances[0].GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [$"stranger{i}@bücher.example"], UserId = user }).AsTask()));

        decisions.Should().OnlyContain(d => d.Reason != EmailSendReason.StoreUnavailable && d.Reason != EmailSendReason.AllowedUnguarded);
        (await instances[1].GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.User, user))
            .Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
    }

    private static EmailFeedbackEvent Bounce(string eventId, string messageId) => new()
    {
        Provider = "ses",
        ProviderEventId = eventId,
        ProviderMessageId = messageId,
        Recipient = "ghost@example.com",
        Kind = EmailFeedbackKind.Bounced,
        BounceType = EmailBounceType.Permanent,
    };

    [Fact]
    public async Task Track_MappingKey_HasATtlOfTheAttributionLifetime()
    {
        ServiceProvider app = Instance();

        await app.GetRequiredService<IEmailGuardFeedback>().TrackAsync("msg-ttl", new EmailSendAttribution { TenantId = "acme" });

        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(Admin, _prefix + "{kv:");
        keys.Should().ContainSingle();
        keys[0].Ttl.Should().NotBeNull();
        keys[0].Ttl!.Value.Should().BeGreaterThan(TimeSpan.FromDays(13)).And.BeLessThanOrEqualTo(TimeSpan.FromDays(14));
        ((string)keys[0].Key!).Should().NotContain("msg-ttl", "message ids are hashed");
    }

    [Fact]
    public async Task Keys_EveryFeedbackKey_HasATtl()
    {
        ServiceProvider app = Instance();
        IEmailGuardFeedback feedback = app.GetRequiredService<IEmailGuardFeedback>();
        await feedback.TrackAsync("m1", new EmailSendAttribution { TenantId = "acme", UserId = "u" });
        await feedback.RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "e1",
            ProviderMessageId = "m1",
            Recipient = "a@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Transient,
        });

        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(Admin, _prefix);
        keys.Where(k => !((string)k.Key!).Contains("guard}", StringComparison.Ordinal)).Should().HaveCountGreaterThan(4)
            .And.OnlyContain(k => k.Ttl != null, "every counter, dedup and mapping key expires");
    }

    private ConnectionMultiplexer Admin => field ??= _connect();

    [Fact]
    public async Task FanOut_SameRecipientsThroughFourInstances_CountOnce_StrangersFlagOnce()
    {
        // Arrange: 20 new recipients an hour flag a user; four instances share one Redis.
        ServiceProvider[] instances = [.. Enumerable.Range(0, 4).Select(_ => Instance(more: s => s.Configure<SendGuardOptions>(o => o.FanOut.NewRecipients = 20)))];

        // Act: all four send alice's 15 contacts at once (15 new recipients, not 60); then mallory's 40 strangers spread over them.
        await Task.WhenAll(Enumerable.Range(0, 60).Select(i => Task.Run(() =>
            instances[i % 4].GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [$"contact{i % 15}@clients.example"], UserId = "alice" }).AsTask())));
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(() =>
            instances[i % 4].GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [$"victim{i}@strangers.example"], UserId = "mallory" }).AsTask())));

        // Assert
        IEmailGuardFlags flags = instances[0].GetRequiredService<IEmailGuardFlags>();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "alice")).Should().BeEmpty("the same 15 contacts are 15 new recipients on every instance together");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "mallory")).Should().ContainSingle(f => f.Reason == EmailGuardFlagReasons.FanOut);
        (await flags.GetEventsAsync(new EmailGuardFlagEventQuery { Take = 100 }))
            .Count(e => e.PartyId == "mallory" && e.Reason == EmailGuardFlagReasons.FanOut).Should().Be(1, "one flag per period, however many instances see the threshold");
    }

    private ServiceProvider Instance(Action<EmailFeedbackOptions>? feedback = null, Action<IServiceCollection>? more = null)
    {
        ConnectionMultiplexer multiplexer = _connect();
        ServiceCollection services = new();
        services.AddSingleton<TimeProvider>(_time);
        if (feedback is not null)
        {
            services.Configure(feedback);
        }

        more?.Invoke(services);
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = _prefix;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(o => o.StateRefreshInterval = TimeSpan.FromHours(1));
        if (more is not null)
        {
            services.AddEmailGuard().AddGuardedEmailSender();
        }

        ServiceProvider provider = services.BuildServiceProvider();
        _instances.Add(provider);
        return provider;
    }

    private sealed class IdTransport(string messageId) : IEmailTransport
    {
        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
            => ValueTask.FromResult<string?>(messageId);
    }
}
