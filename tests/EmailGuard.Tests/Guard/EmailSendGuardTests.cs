using System.Net;
using System.Security.Cryptography;
using System.Text;
using EmailGuard.Testing.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

public sealed class EmailSendGuardTests
{
    private static OutboundEmail Mail(params string[] to) => new() { To = to, TenantId = "acme", Sender = "noreply@app.example", UserId = "u1" };

    private static (ServiceProvider Services, RecordingRateLimitStore Store, FakeTimeProvider Time) Build(Action<SendGuardOptions> configure, FakeLogCollector? logs = null, Action<IServiceCollection>? more = null)
    {
        FakeTimeProvider time = new(SendGuardTestServices.Start);
        RecordingRateLimitStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time));
        ServiceProvider sp = SendGuardTestServices.Build(configure, time: time, logs: logs, more: s =>
        {
            s.AddSingleton<IRateLimitStore>(store);
            more?.Invoke(s);
        });
        return (sp, store, time);
    }

    [Fact]
    public async Task Check_MessageToThreeRecipients_CostsThreeMessageWideAndOnePerRecipientAndDomain()
    {
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.Recipient.Add(RateLimitRule.PerHour(100));
            o.RecipientDomain.Add(RateLimitRule.PerHour(100));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = ["a@x.example", "A@X.example"], Cc = ["b@x.example"], Bcc = ["c@y.example"], TenantId = "acme" });

        decision.IsAllowed.Should().BeTrue();
        decision.Usage.ToArray().Select(u => (u.Dimension, u.Partition, u.Cost, u.Count)).Should().Equal(
            (EmailGuardDimension.Tenant, "acme", 3L, 3L),
            (EmailGuardDimension.Recipient, "a@x.example", 1L, 1L),
            (EmailGuardDimension.RecipientDomain, "x.example", 1L, 1L),
            (EmailGuardDimension.Recipient, "b@x.example", 1L, 1L),
            (EmailGuardDimension.Recipient, "c@y.example", 1L, 1L),
            (EmailGuardDimension.RecipientDomain, "y.example", 1L, 1L));
        decision.GetRemaining(EmailGuardDimension.Tenant).Should().Be(97);
    }

    [Fact]
    public async Task Check_CountEachRecipientAgainstDomain_DomainCostIsItsRecipientCount()
    {
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.RecipientDomain.Add(RateLimitRule.PerHour(100));
            o.CountEachRecipientAgainstDomain = true;
        });
        await using ServiceProvider owned = sp;

        EmailSendDecision decision = await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(Mail("a@x.example", "b@x.example", "c@y.example"));

        decision.Usage.ToArray().Select(u => (u.Partition, u.Cost)).Should().Equal(("x.example", 2L), ("y.example", 1L));
    }

    [Fact]
    public async Task Check_CounterKeys_CarryAHashOfTheAddressNeverTheAddress()
    {
        (ServiceProvider sp, RecordingRateLimitStore store, _) = Build(o =>
        {
            o.Sender.Add(RateLimitRule.PerHour(100));
            o.Recipient.Add(RateLimitRule.PerHour(100));
            o.User.Add(RateLimitRule.PerHour(100));
        });
        await using ServiceProvider owned = sp;

        await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["Victim+x@Example.com"], Sender = "noreply@app.example", UserId = "someone@corp.example" });

        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("victim@example.com"))[..16]);
        store.Keys.Should().Contain($"send:r:{hash}");
        store.Keys.Should().NotContain(k => k.Contains('@') || k.Contains("victim", StringComparison.OrdinalIgnoreCase) || k.Contains("noreply", StringComparison.Ordinal) || k.Contains("someone", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Peek_ManyTimes_ConsumesNothing()
    {
        (ServiceProvider sp, _, _) = Build(o => o.Tenant.Add(RateLimitRule.PerHour(1)));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 5; i++)
        {
            (await guard.PeekAsync(Mail("a@example.com"))).IsAllowed.Should().BeTrue();
        }

        (await guard.CheckAsync(Mail("a@example.com"))).IsAllowed.Should().BeTrue();
        EmailSendDecision peek = await guard.PeekAsync(Mail("a@example.com"));
        peek.Reason.Should().Be(EmailSendReason.LimitExceeded);
        peek.IsRefundable.Should().BeFalse();
    }

    [Theory]
    [InlineData(StoreFailureMode.FailClosed, EmailSendReason.StoreUnavailable)]
    [InlineData(StoreFailureMode.FailOpen, EmailSendReason.AllowedUnguarded)]
    [InlineData(StoreFailureMode.LocalFallback, EmailSendReason.Allowed)]
    public async Task Check_StoreThrows_FailureModeAppliesAndNothingThrows(StoreFailureMode mode, EmailSendReason expected)
    {
        (ServiceProvider sp, RecordingRateLimitStore store, _) = Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1));
            o.FailureMode = mode;
        });
        await using ServiceProvider owned = sp;
        store.Fail = true;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        EmailSendDecision decision = await guard.CheckAsync(Mail("a@example.com"));

        decision.Reason.Should().Be(expected);
        (await guard.RefundAsync(decision)).Should().Be(
            mode == StoreFailureMode.LocalFallback, "a local admit is refunded to the local store; nothing else is refundable, and nothing throws");
        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { TenantId = "acme" });
        status.IsStoreAvailable.Should().BeFalse();
    }

    [Fact]
    public async Task Check_NoRecipientsOrTooMany_DeniedWithoutTouchingTheStore()
    {
        (ServiceProvider sp, RecordingRateLimitStore store, _) = Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100_000));
            o.MaxRecipientsPerMessage = 3;
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail())).Reason.Should().Be(EmailSendReason.NoRecipients);
        (await guard.CheckAsync(Mail("a@x.example", "b@x.example", "c@x.example", "d@x.example"))).Reason.Should().Be(EmailSendReason.TooManyRecipients);
        (await guard.CheckAsync(Mail("a@x.example", "a@x.example", "A@x.example", "b@x.example"))).IsAllowed.Should().BeTrue("duplicates count once");
        store.Acquires.Should().Be(1, "only the admitted message reaches the store: its counters and its send for the ratio breakers in one acquire");
    }

    [Fact]
    public async Task Check_ClientIpv6InOneSlash64_SharesOneCounter()
    {
        (ServiceProvider sp, _, _) = Build(o => o.ClientIp.Add(RateLimitRule.PerHour(2)));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("2001:db8:1:2::1") })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("2001:db8:1:2:ffff::9") })).IsAllowed.Should().BeTrue();
        EmailSendDecision third = await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("2001:db8:1:2:abcd::1") });

        third.Dimension.Should().Be(EmailGuardDimension.ClientIp);
        third.Partition.Should().Be("2001:db8:1:2::/64");
        (await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("2001:db8:1:3::1") })).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task GetStatus_ClientIpInASlash24_ReportsTheNetworksUsage()
    {
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.IPv4PrefixLength = 24;
            o.ClientIp.Add(RateLimitRule.PerHour(20));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("203.0.113.7") });
        await guard.CheckAsync(new OutboundEmail { To = ["a@x.example", "b@x.example"], ClientIp = IPAddress.Parse("203.0.113.8") });
        await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], ClientIp = IPAddress.Parse("198.51.100.7") });

        EmailGuardStatus status = await guard.GetStatusAsync(new EmailGuardStatusQuery { ClientIp = IPAddress.Parse("203.0.113.250") });

        status.Usage.Should().ContainSingle(u => u.Dimension == EmailGuardDimension.ClientIp).Which.Should()
            .Match<EmailSendRuleUsage>(u => u.Partition == "203.0.113.0/24" && u.Count == 3 && u.Limit == 20);
    }

    [Fact]
    public async Task Check_NamedCategory_UsesItsRulesAndOthersUseTheDefault()
    {
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Category.Add(RateLimitRule.PerHour(5));
            o.Categories["signup"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(1));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        (await guard.CheckAsync(new OutboundEmail { To = ["a@x.example"], Category = "signup" })).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(new OutboundEmail { To = ["b@x.example"], Category = "SignUp" })).Dimension.Should().Be(EmailGuardDimension.Category);
        (await guard.CheckAsync(new OutboundEmail { To = ["b@x.example"], Category = "share" })).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Check_HourlyAndDailyRules_BothEnforced()
    {
        (ServiceProvider sp, _, FakeTimeProvider time) = Build(o => o.Tenant.Add(RateLimitRule.PerHour(3)).Add(RateLimitRule.PerDay(5)));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        int allowed = 0;
        for (int hour = 0; hour < 3; hour++)
        {
            for (int i = 0; i < 4; i++)
            {
                allowed += (await guard.CheckAsync(Mail("a@example.com"))).IsAllowed ? 1 : 0;
            }

            time.Advance(TimeSpan.FromHours(1));
        }

        allowed.Should().Be(5);
    }

    [Fact]
    public async Task Events_LimitExceededAndNearLimit_Raised()
    {
        List<EmailGuardLimitArguments> exceeded = [];
        List<EmailGuardLimitArguments> near = [];
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(10));
            o.NearLimitThreshold = 0.8;
            o.Events.OnLimitExceeded = args =>
            {
                exceeded.Add(args);
                return ValueTask.CompletedTask;
            };
            o.Events.OnNearLimit = args =>
            {
                near.Add(args);
                return ValueTask.CompletedTask;
            };
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 12; i++)
        {
            await guard.CheckAsync(Mail("a@example.com"));
        }

        near.Should().ContainSingle().Which.Usage.Count.Should().Be(8);
        exceeded.Should().HaveCount(2);
        exceeded[0].Usage.Dimension.Should().Be(EmailGuardDimension.Tenant);
        exceeded[0].Message.TenantId.Should().Be("acme");
    }

    [Fact]
    public async Task Events_OnChecked_RaisedOncePerCheckWithItsDecisionNeverForAPeek()
    {
        List<EmailGuardCheckArguments> checkedEvents = [];
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(2));
            o.Events.OnChecked = e =>
            {
                checkedEvents.Add(e);
                return ValueTask.CompletedTask;
            };
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        for (int i = 0; i < 3; i++)
        {
            await guard.CheckAsync(Mail("a@example.com"));
        }

        await guard.PeekAsync(Mail("a@example.com"));

        checkedEvents.Should().HaveCount(3);
        checkedEvents.Select(e => e.Decision.IsAllowed).Should().Equal(true, true, false);
        checkedEvents[2].Decision.Reason.Should().Be(EmailSendReason.LimitExceeded);
        checkedEvents[2].Message.TenantId.Should().Be("acme");
    }

    [Fact]
    public async Task Events_OnRefunded_RaisedOncePerRefundedDecision_NeverForADenialOrARepeat()
    {
        List<EmailGuardRefundArguments> refunds = [];
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1));
            o.Events.OnRefunded = e =>
            {
                refunds.Add(e);
                return ValueTask.CompletedTask;
            };
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = Mail("a@example.com");
        EmailSendDecision allowed = await guard.CheckAsync(message);
        EmailSendDecision denied = await guard.CheckAsync(Mail("b@example.com"));

        bool first = await guard.RefundAsync(allowed);
        bool again = await guard.RefundAsync(allowed);
        bool ofDenial = await guard.RefundAsync(denied);

        (first, again, ofDenial).Should().Be((true, false, false));
        refunds.Should().ContainSingle();
        refunds[0].Message.Should().BeSameAs(message);
        refunds[0].Decision.Timestamp.Should().Be(allowed.Timestamp);
    }

    [Fact]
    public async Task Events_ThrowingCallback_IsLoggedAndTheCheckGoesOn()
    {
        FakeLogCollector logs = new();
        (ServiceProvider sp, _, _) = Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1));
                o.Events.OnLimitExceeded = _ => throw new InvalidOperationException("alerting is down");
            },
            logs);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        await guard.CheckAsync(Mail("a@example.com"));
        EmailSendDecision denied = await guard.CheckAsync(Mail("a@example.com"));

        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        logs.GetSnapshot().Select(r => r.Id.Name).Should().Contain(["SendLimitExceeded", "EventCallbackFailed"]);
    }

    [Fact]
    public async Task Events_CallbackThatNeverCompletes_DoesNotDelayTheCheck_AndAtMostMaxPendingRun()
    {
        FakeLogCollector logs = new();
        TaskCompletionSource stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int started = 0;
        (ServiceProvider sp, _, _) = Build(
            o =>
            {
                o.Recipient.Add(RateLimitRule.PerHour(1));
                o.Events.OnLimitExceeded = async _ =>
                {
                    Interlocked.Increment(ref started);
                    await stalled.Task;
                };
            },
            logs);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("a@example.com"));

        // Every denial raises the event; the alerting endpoint never answers. Each check still returns its decision.
        const int Denials = EmailGuardEventRunner.MaxPending + 10;
        for (int i = 0; i < Denials; i++)
        {
            EmailSendDecision denied = await guard.CheckAsync(Mail("a@example.com"));
            denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        }

        started.Should().Be(EmailGuardEventRunner.MaxPending, "callbacks beyond the bound are dropped, not queued");
        logs.GetSnapshot().Where(r => r.Id.Name == "EventCallbackDropped").Should().ContainSingle("the first drop is logged, then one line per 1,000");

        stalled.SetResult();
    }

    [Fact]
    public async Task Events_AsyncCallbackThatFails_IsLoggedAndTheDecisionStands()
    {
        FakeLogCollector logs = new();
        TaskCompletionSource failing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        (ServiceProvider sp, _, _) = Build(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(1));
                o.Events.OnLimitExceeded = async _ => await failing.Task;
            },
            logs);
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        await guard.CheckAsync(Mail("a@example.com"));
        EmailSendDecision denied = await guard.CheckAsync(Mail("a@example.com"));
        failing.SetException(new InvalidOperationException("alerting is down"));

        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        // The failure is logged on the thread pool, two continuations after the callback's task faults: wait for the
        // line on the real clock for up to 30 s, not 500 tries of 10 ms (about 5 s, short for a starved thread pool).
        long waiting = System.Diagnostics.Stopwatch.GetTimestamp();
        while (!logs.GetSnapshot().Any(r => r.Id.Name == "EventCallbackFailed") && System.Diagnostics.Stopwatch.GetElapsedTime(waiting) < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10);
        }

        logs.GetSnapshot().Where(r => r.Id.Name == "EventCallbackFailed").Should().ContainSingle()
            .Which.Message.Should().Be("The EmailGuard OnLimitExceeded callback threw; the decision it reports stands.");
    }

    [Fact]
    public async Task ClearAsync_CommentIsRecorded_FilterPicksTheFlags_AndAClearOfNothingRecordsNothing()
    {
        FakeLogCollector logs = new();
        (ServiceProvider sp, _, _) = Build(_ => { }, logs);
        await using ServiceProvider owned = sp;
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.Complaint, flaggedBy: "monitor");
        await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "monitor");

        // The why is not a filter: a comment that matches no flag reason still clears what the filter picks.
        int none = await flags.ClearAsync(EmailGuardPartyType.User, "u1", flagReason: "manual", comment: "false positive");
        int one = await flags.ClearAsync(EmailGuardPartyType.User, "u1", flagReason: EmailGuardFlagReasons.Complaint, comment: "false positive", clearedBy: "support");
        int rest = await flags.ClearAsync(EmailGuardPartyType.User, "u1", comment: "provider outage");
        int again = await flags.ClearAsync(EmailGuardPartyType.User, "u1", comment: "double click");

        (none, one, rest, again).Should().Be((0, 1, 1, 0));
        IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyId = "u1" });
        events.Where(e => e.Kind == EmailGuardFlagEventKind.Cleared).Select(e => (e.Reason, e.Comment, e.CreatedBy)).Should().Equal(
            (EmailGuardFlagReasons.HighBounceRate, "provider outage", null),
            (EmailGuardFlagReasons.Complaint, "false positive", "support"));
        logs.GetSnapshot().Where(r => r.Id.Name == "FlagCleared").Select(r => r.Message).Should().Equal(
            "1 flag(s) of a User were cleared by support; comment: false positive.",
            "1 flag(s) of a User were cleared by an unnamed caller; comment: provider outage.");
    }

    [Fact]
    public async Task Flags_TenantSuspendedAndUserFlagged_RaiseEventsAndRecordEvents()
    {
        List<EmailGuardFlag> suspended = [];
        List<EmailGuardFlag> userFlagged = [];
        FakeLogCollector logs = new();
        (ServiceProvider sp, _, FakeTimeProvider time) = Build(
            o =>
            {
                o.Events.OnTenantSuspended = args =>
                {
                    suspended.Add(args.Flag);
                    return ValueTask.CompletedTask;
                };
                o.Events.OnUserFlagged = args =>
                {
                    userFlagged.Add(args.Flag);
                    return ValueTask.CompletedTask;
                };
            },
            logs);
        await using ServiceProvider owned = sp;
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();

        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        time.Advance(TimeSpan.FromMinutes(1));
        await flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.HighBounceRate);

        suspended.Should().ContainSingle().Which.Suspend.Should().BeTrue();
        userFlagged.Should().ContainSingle().Which.LimitFactor.Should().Be(0.1);
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial")).Should().ContainSingle().Which.ExpiresAt.Should().Be(SendGuardTestServices.Start.AddHours(24));
        IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(new EmailGuardFlagEventQuery());
        events.Select(e => (e.Kind, e.PartyId)).Should().Equal((EmailGuardFlagEventKind.Flagged, "u1"), (EmailGuardFlagEventKind.Suspended, "trial"));
        (await flags.GetEventsAsync(new EmailGuardFlagEventQuery { Since = SendGuardTestServices.Start.AddSeconds(30) })).Should().ContainSingle();
        logs.GetSnapshot().Select(r => r.Id.Name).Should().Contain(["PartySuspended", "PartyFlagged"]);

        EmailGuardStatus status = await sp.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial", UserId = "u1" });
        status.Flags.Select(f => f.Reason).Should().BeEquivalentTo(["manual", "high_bounce_rate"]);
    }

    [Fact]
    public async Task Flags_SuspendedAgain_ReplacedIsTheActiveFlag_NullAfterAClearOrExpiry()
    {
        // Arrange: an alert tells a new incident from a repeat by Replaced.
        List<EmailGuardFlagArguments> suspended = [];
        (ServiceProvider sp, _, FakeTimeProvider time) = Build(o => o.Events.OnTenantSuspended = args =>
        {
            suspended.Add(args);
            return ValueTask.CompletedTask;
        });
        await using ServiceProvider owned = sp;
        IEmailGuardFlags flags = sp.GetRequiredService<IEmailGuardFlags>();

        // Act: new, repeat, cleared then new, expired then new.
        EmailGuardFlag first = await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        await flags.ClearAsync(EmailGuardPartyType.Tenant, "trial");
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));
        time.Advance(TimeSpan.FromHours(2));
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "trial", EmailGuardFlagReasons.Manual, TimeSpan.FromHours(1));

        // Assert
        suspended.Select(a => a.Replaced?.CreatedAt).Should().Equal(null, first.CreatedAt, null, null);
    }

    [Fact]
    public async Task Flags_OnlyUsersAndTenants_CanBeFlagged()
    {
        (ServiceProvider sp, _, _) = Build(_ => { });
        await using ServiceProvider owned = sp;

        Func<Task> flag = async () => await sp.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Recipient, "a@b.example", "manual");

        await flag.Should().ThrowAsync<ArgumentOutOfRangeException>();
    }

    [Fact]
    public async Task TenantLimitProvider_Throws_DefaultsApplyAndTheFailureIsLogged()
    {
        FakeLogCollector logs = new();
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(1)] }) { Failure = new TimeoutException("db down") };
        (ServiceProvider sp, _, _) = Build(o => o.Tenant.Add(RateLimitRule.PerHour(2)), logs, s => s.AddSingleton<ITenantLimitProvider>(provider));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        int allowed = 0;
        for (int i = 0; i < 5; i++)
        {
            allowed += (await guard.CheckAsync(Mail("a@example.com"))).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(2);
        provider.Calls("acme").Should().Be(1);
        logs.GetSnapshot().Should().Contain(r => r.Id.Name == "TenantLimitProviderFailure" && r.Exception is TimeoutException);
    }

    [Fact]
    public async Task TenantLimitProvider_ConcurrentChecks_ShareOneLookup()
    {
        TaskCompletionSource<TenantLimits?> gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        SlowProvider provider = new(() =>
        {
            Interlocked.Increment(ref calls);
            return gate.Task;
        });
        (ServiceProvider sp, _, _) = Build(o => o.Tenant.Add(RateLimitRule.PerHour(100)), more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();

        Task<EmailSendDecision>[] checks = [.. Enumerable.Range(0, 20).Select(_ => guard.CheckAsync(Mail("a@example.com")).AsTask())];
        gate.SetResult(new TenantLimits { Rules = [RateLimitRule.PerHour(7)] });
        EmailSendDecision[] decisions = await Task.WhenAll(checks);

        calls.Should().Be(1);
        decisions.Count(d => d.IsAllowed).Should().Be(7);
    }

    [Fact]
    public async Task Status_Query_ReportsEveryRuleWithoutConsuming()
    {
        (ServiceProvider sp, _, _) = Build(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(1000));
            o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(1000));
            o.Recipient.Add(RateLimitRule.PerHour(5));
            o.RecipientDomain.Add(RateLimitRule.PerHour(50));
        });
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("victim@example.com"));
        EmailGuardStatusQuery query = new() { TenantId = "acme", Recipient = "Victim+2@Example.com" };

        EmailGuardStatus first = await guard.GetStatusAsync(query);
        EmailGuardStatus second = await guard.GetStatusAsync(query);

        first.IsStoreAvailable.Should().BeTrue();
        first.Usage.Select(u => (u.Dimension, u.Partition, u.Count, u.Limit)).Should().Equal(
            (EmailGuardDimension.Global, (string?)null, 1L, 1000L),
            (EmailGuardDimension.Tenant, "acme", 1L, 100L),
            (EmailGuardDimension.Tenant, "acme", 1L, 1000L),
            (EmailGuardDimension.Recipient, "victim@example.com", 1L, 5L),
            (EmailGuardDimension.RecipientDomain, "example.com", 1L, 50L));
        second.Usage.Select(u => u.Count).Should().Equal(first.Usage.Select(u => u.Count));
        (await guard.GetStatusAsync(new EmailGuardStatusQuery { Recipient = "nope" })).InvalidAddress.Should().Be("nope");
    }

    [Fact]
    public async Task Refund_DeniedDecision_ReturnsFalse()
    {
        (ServiceProvider sp, _, _) = Build(o => o.Tenant.Add(RateLimitRule.PerHour(1)));
        await using ServiceProvider owned = sp;
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await guard.CheckAsync(Mail("a@example.com"));

        EmailSendDecision denied = await guard.CheckAsync(Mail("a@example.com"));

        (await guard.RefundAsync(denied)).Should().BeFalse();
        (await guard.RefundAsync(default)).Should().BeFalse();
    }

    private sealed class SlowProvider(Func<Task<TenantLimits?>> load) : ITenantLimitProvider
    {
        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken) => new(load());
    }
}
