using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using EmailGuard;
using EmailGuard.Testing.Stores;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// The send guard's incident scenarios, run once per store: subclasses say how to create the rate-limit store (and,
/// for a shared backend, the state store). Every store must produce exactly the same decisions.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    /// <summary>A fixed start inside an hour window, far from any boundary.</summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 5, 0, TimeSpan.Zero);

    /// <summary>Creates a fresh, empty rate-limit store that reads <paramref name="time"/>.</summary>
    protected abstract IRateLimitStore CreateStore(FakeTimeProvider time);

    /// <summary>Creates a fresh, empty state store for lists and flags; in memory unless the subclass shares one.</summary>
    internal virtual IEmailGuardStateStore CreateStateStore(FakeTimeProvider time) => new InMemoryEmailGuardStateStore(time);

    /// <summary>
    /// The key-value store the guards of a test share (where the fair share lists active tenants); one in-memory store
    /// per test unless the subclass shares a backend.
    /// </summary>
    internal virtual IEmailGuardKeyValueStore CreateKeyValueStore(FakeTimeProvider time) => _keyValues ??= new InMemoryKeyValueStore(10_000, time);

    private IEmailGuardKeyValueStore? _keyValues;

    /// <summary>
    /// Creates <paramref name="count"/> guards that share one backend but, where the store supports it, not one
    /// connection (several Redis multiplexers), like several app instances.
    /// </summary>
    protected virtual IReadOnlyList<SendGuardHarness> CreateInstances(int count, Action<SendGuardOptions> configure, ITenantLimitProvider? tenantLimits = null)
    {
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        return [.. Enumerable.Range(0, count).Select(_ => Create(configure, time, store, tenantLimits))];
    }

    /// <summary>Creates a guard over a fresh store.</summary>
    protected SendGuardHarness Create(Action<SendGuardOptions> configure, ITenantLimitProvider? tenantLimits = null)
    {
        FakeTimeProvider time = new(Start);
        return Create(configure, time, CreateStore(time), tenantLimits);
    }

    /// <summary>Creates a guard over a given store.</summary>
    protected SendGuardHarness Create(Action<SendGuardOptions> configure, FakeTimeProvider time, IRateLimitStore store, ITenantLimitProvider? tenantLimits = null)
    {
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero };
        configure(options);
        return new SendGuardHarness(time, store, CreateStateStore(time), options, tenantLimits, keyValues: CreateKeyValueStore(time));
    }

    private static OutboundEmail Mail(string to, string? tenant = null, string? sender = null, string? user = null, string? category = null, IPAddress? ip = null)
        => new() { To = [to], TenantId = tenant, Sender = sender, UserId = user, Category = category, ClientIp = ip };

    [Fact]
    public async Task PurchaseOrderIncident_TenantScriptsThousandsOfSends_ExactlyTenantCapGoesThroughAndOthersKeepSending()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(10_000));
            o.Tenant.Add(RateLimitRule.PerHour(100)).Add(RateLimitRule.PerDay(1_000));
        });

        int allowed = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 4_891; i++)
        {
            last = await h.Guard.CheckAsync(Mail($"buyer{i % 300}@customer{i % 17}.example", tenant: "trial-4711", sender: "orders@app.example"));
            allowed += last.IsAllowed ? 1 : 0;
            if (i % 50 == 0)
            {
                h.Time.Advance(TimeSpan.FromSeconds(30));
            }
        }

        allowed.Should().Be(100);
        last.Reason.Should().Be(EmailSendReason.LimitExceeded);
        last.Dimension.Should().Be(EmailGuardDimension.Tenant);
        last.Partition.Should().Be("trial-4711");
        last.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(TimeSpan.FromHours(1));

        for (int t = 0; t < 20; t++)
        {
            EmailSendDecision other = await h.Guard.CheckAsync(Mail($"someone{t}@partner.example", tenant: $"tenant-{t}", sender: "orders@app.example"));
            other.IsAllowed.Should().BeTrue("tenant-{0} has its own cap and the global cap has room", t);
        }

        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(120);
    }

    [Fact]
    public async Task RecipientSpray_ThousandMessagesToOneVictimFromManyTenants_StopAtRecipientCap()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.Sender.Add(RateLimitRule.PerHour(100));
            o.Recipient.Add(RateLimitRule.PerHour(5)).Add(RateLimitRule.PerDay(20));
        });

        int allowed = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 1_000; i++)
        {
            last = await h.Guard.CheckAsync(Mail("victim@target.example", tenant: $"t{i % 97}", sender: $"s{i % 89}@app.example"));
            allowed += last.IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(5);
        last.Reason.Should().Be(EmailSendReason.LimitExceeded);
        last.Dimension.Should().Be(EmailGuardDimension.Recipient);
        last.Recipient.Should().Be("victim@target.example");
    }

    [Fact]
    public async Task RandomAddressesAtOneDomain_StopAtDomainCap()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Recipient.Add(RateLimitRule.PerHour(5));
            o.RecipientDomain.Add(RateLimitRule.PerHour(50));
        });

        int allowed = 0;
        EmailSendDecision last = default;
        for (int i = 0; i < 500; i++)
        {
            last = await h.Guard.CheckAsync(Mail($"x{Guid.NewGuid():N}@victim-corp.example", tenant: "t1"));
            allowed += last.IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(50);
        last.Dimension.Should().Be(EmailGuardDimension.RecipientDomain);
        last.Partition.Should().Be("victim-corp.example");
        (await h.Guard.CheckAsync(Mail("someone@other.example"))).IsAllowed.Should().BeTrue();
    }

    [Theory]
    [InlineData(EmailGuardDimension.Global)]
    [InlineData(EmailGuardDimension.Tenant)]
    [InlineData(EmailGuardDimension.Sender)]
    [InlineData(EmailGuardDimension.User)]
    [InlineData(EmailGuardDimension.ClientIp)]
    [InlineData(EmailGuardDimension.Category)]
    [InlineData(EmailGuardDimension.Recipient)]
    [InlineData(EmailGuardDimension.RecipientDomain)]
    public async Task Check_DeniedByAnyOneDimension_LeavesEveryCounterUnchanged(EmailGuardDimension tight)
    {
        SendGuardHarness h = Create(o =>
        {
            foreach ((EmailGuardDimension dimension, SendGuardDimensionOptions rules) in AllDimensions(o))
            {
                rules.Add(RateLimitRule.PerHour(dimension == tight ? 2 : 1_000)).Add(RateLimitRule.PerDay(10_000));
            }
        });
        OutboundEmail message = new()
        {
            To = ["a@one.example"],
            Cc = ["b@one.example"],
            TenantId = "acme",
            Sender = "noreply@app.example",
            UserId = "u1",
            Category = "share",
            ClientIp = IPAddress.Parse("203.0.113.9"),
        };
        EmailGuardStatusQuery everything = new() { TenantId = "acme", Sender = "noreply@app.example", UserId = "u1", Category = "share", ClientIp = IPAddress.Parse("203.0.113.9"), Recipient = "a@one.example" };

        // Two recipients cost 2 against message-wide caps: the tight one is full after the first message when it is
        // message-wide; a per-recipient cap of 2 needs a second message.
        EmailSendDecision first = await h.Guard.CheckAsync(message);
        first.IsAllowed.Should().BeTrue();
        bool perRecipient = tight is EmailGuardDimension.Recipient or EmailGuardDimension.RecipientDomain;
        if (perRecipient)
        {
            (await h.Guard.CheckAsync(message)).IsAllowed.Should().BeTrue();
        }

        IReadOnlyList<EmailSendRuleUsage> before = await h.UsageAsync(everything);
        EmailSendDecision denied = await h.Guard.CheckAsync(message);
        IReadOnlyList<EmailSendRuleUsage> after = await h.UsageAsync(everything);

        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        denied.Dimension.Should().Be(tight);
        denied.GetRemaining(tight).Should().Be(0);
        after.Select(u => (u.Dimension, u.Rule.Window, u.Count)).Should().Equal(before.Select(u => (u.Dimension, u.Rule.Window, u.Count)));
        foreach (EmailSendRuleUsage usage in before)
        {
            bool own = usage.Dimension is EmailGuardDimension.Recipient or EmailGuardDimension.RecipientDomain;
            int messages = perRecipient ? 2 : 1;
            usage.Count.Should().Be(own ? messages : 2 * messages, "{0} counts {1} per message", usage.Dimension, own ? 1 : 2);
        }
    }

    [Fact]
    public async Task Check_ConcurrentInstancesSharingOneStore_AdmitExactlyAndCountersStayConsistent()
    {
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(4, o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100_000));
            o.Tenant.Add(RateLimitRule.PerHour(25));
            o.Recipient.Add(RateLimitRule.PerHour(1));
        });
        ConcurrentBag<string> admitted = [];

        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            SendGuardHarness instance = instances[i % instances.Count];
            string recipient = $"r{i % 40}@spray.example";
            EmailSendDecision decision = await instance.Guard.CheckAsync(Mail(recipient, tenant: "acme"), ct);
            if (decision.IsAllowed)
            {
                admitted.Add(recipient);
            }
        });

        admitted.Should().HaveCount(25).And.OnlyHaveUniqueItems();
        SendGuardHarness any = instances[0];
        (await any.CountAsync(new EmailGuardStatusQuery { TenantId = "acme" }, EmailGuardDimension.Tenant)).Should().Be(25);
        (await any.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(25);
        long recipients = 0;
        for (int r = 0; r < 40; r++)
        {
            recipients += await any.CountAsync(new EmailGuardStatusQuery { Recipient = $"r{r}@spray.example" }, EmailGuardDimension.Recipient);
        }

        recipients.Should().Be(25, "a denied message must not leave a recipient permit behind");
    }

    [Fact]
    public async Task Normalization_CaseTagsWhitespaceAndIdnForms_ShareOneCounter()
    {
        SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(3)));

        (await h.Guard.CheckAsync(Mail("Victim@Example.com"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("victim+1@example.com"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail(" victim@EXAMPLE.com "))).IsAllowed.Should().BeTrue();
        EmailSendDecision fourth = await h.Guard.CheckAsync(Mail("victim+newsletter@example.COM"));

        fourth.Reason.Should().Be(EmailSendReason.LimitExceeded);
        fourth.Recipient.Should().Be("victim@example.com");

        SendGuardHarness idn = Create(o => o.Recipient.Add(RateLimitRule.PerHour(2)));
        (await idn.Guard.CheckAsync(Mail("kunde@bücher.example"))).IsAllowed.Should().BeTrue();
        (await idn.Guard.CheckAsync(Mail("Kunde@xn--bcher-kva.example"))).IsAllowed.Should().BeTrue();
        EmailSendDecision third = await idn.Guard.CheckAsync(Mail("kunde@BÜCHER.example"));
        third.Reason.Should().Be(EmailSendReason.LimitExceeded);
        third.Recipient.Should().Be("kunde@xn--bcher-kva.example");
    }

    /// <summary>Malformed addresses of many shapes.</summary>
    public static TheoryData<string> MalformedAddresses() => new()
    {
        string.Empty,
        "   ",
        "no-at-sign.example",
        "two@at@example.com",
        "@example.com",
        "victim@",
        new string('a', 10_000) + "@example.com",
        "vic\u0000tim@example.com",
        "victim@example.com\r\nBcc: everyone@example.com",
        "vic\u200Btim@example.com",
        "victim@exаmple.com",
        "\"quoted local\"@example.com",
        "Display Name <victim@example.com>",
        "victim@localhost",
        "victim..double@example.com",
    };

    [Theory]
    [MemberData(nameof(MalformedAddresses))]
    public async Task Check_MalformedRecipient_InvalidAddressNamingItAndNoCounterMoves(string address)
    {
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.PerHour(100));
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.Recipient.Add(RateLimitRule.PerHour(100));
        });

        EmailSendDecision decision = await h.Guard.CheckAsync(new OutboundEmail { To = ["fine@example.com", address], TenantId = "acme" });

        decision.Reason.Should().Be(EmailSendReason.InvalidAddress);
        decision.IsAllowed.Should().BeFalse();
        decision.InvalidAddress.Should().Be(address);
        decision.Detail.Should().NotBeNullOrEmpty();
        (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "acme", Recipient = "fine@example.com" }, EmailGuardDimension.Global)).Should().Be(0);
        (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "acme" }, EmailGuardDimension.Tenant)).Should().Be(0);
        (await h.CountAsync(new EmailGuardStatusQuery { Recipient = "fine@example.com" }, EmailGuardDimension.Recipient)).Should().Be(0);
    }

    [Fact]
    public async Task Check_MalformedSender_InvalidAddressOnSender()
    {
        SendGuardHarness h = Create(o => o.Global.Add(RateLimitRule.PerHour(100)));

        EmailSendDecision decision = await h.Guard.CheckAsync(Mail("fine@example.com", sender: "not an address"));

        decision.Reason.Should().Be(EmailSendReason.InvalidAddress);
        decision.Dimension.Should().Be(EmailGuardDimension.Sender);
        decision.InvalidAddress.Should().Be("not an address");
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(0);
    }

    [Fact]
    public async Task Blocklist_EntryWithExpiry_DeniesBeforeCountersThenLapses()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Global.Add(RateLimitRule.PerDay(1_000));
            o.Recipient.Add(RateLimitRule.PerDay(100));
        });
        await h.Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "Victim+spam@Example.com", "spam_trap", TimeSpan.FromHours(1), "ops@app.example");

        EmailSendDecision blocked = await h.Guard.CheckAsync(Mail("victim@example.com"));

        blocked.Reason.Should().Be(EmailSendReason.Blocklisted);
        blocked.Dimension.Should().Be(EmailGuardDimension.Recipient);
        blocked.Recipient.Should().Be("victim@example.com");
        blocked.Detail.Should().Contain("spam_trap");
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(0);

        h.Time.Advance(TimeSpan.FromHours(1));
        (await h.Guard.CheckAsync(Mail("victim@example.com"))).IsAllowed.Should().BeTrue();
        (await h.Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com")).Should().BeNull();
        (await h.Lists.ListAsync(new EmailGuardListQuery { IncludeExpired = true })).TotalCount.Should().Be(1);
    }

    [Theory]
    [InlineData(EmailGuardPartyType.Tenant, "acme", EmailGuardDimension.Tenant)]
    [InlineData(EmailGuardPartyType.User, "u1", EmailGuardDimension.User)]
    [InlineData(EmailGuardPartyType.Sender, "NoReply@App.example", EmailGuardDimension.Sender)]
    [InlineData(EmailGuardPartyType.RecipientDomain, "Target.EXAMPLE", EmailGuardDimension.RecipientDomain)]
    public async Task Blocklist_AnyPartyType_DeniesTheMessage(EmailGuardPartyType type, string value, EmailGuardDimension dimension)
    {
        SendGuardHarness h = Create(o => o.Global.Add(RateLimitRule.PerDay(1_000)));
        await h.Lists.AddAsync(EmailGuardListKind.Blocklist, type, value, "abuse");

        EmailSendDecision decision = await h.Guard.CheckAsync(Mail("someone@target.example", tenant: "acme", sender: "noreply@app.example", user: "u1"));

        decision.Reason.Should().Be(EmailSendReason.Blocklisted);
        decision.Dimension.Should().Be(dimension);
        (await h.CountAsync(new EmailGuardStatusQuery(), EmailGuardDimension.Global)).Should().Be(0);
    }

    [Fact]
    public async Task Allowlist_Recipient_SkipsRecipientCapButNotTenantCap()
    {
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(5));
            o.Recipient.Add(RateLimitRule.PerHour(1));
        });
        await h.Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Recipient, "monitor@ops.example", "uptime_probe");

        int allowed = 0;
        for (int i = 0; i < 10; i++)
        {
            allowed += (await h.Guard.CheckAsync(Mail("monitor@ops.example", tenant: "acme"))).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(5);
    }

    [Fact]
    public async Task Flag_HighBounceRate_ReducesLimitSharingTheCounterThenRestores()
    {
        SendGuardHarness h = Create(o => o.User.Add(RateLimitRule.PerHour(100)));
        for (int i = 0; i < 8; i++)
        {
            (await h.Guard.CheckAsync(Mail($"r{i}@example.com", user: "u1"))).IsAllowed.Should().BeTrue();
        }

        await h.Flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.HighBounceRate, TimeSpan.FromMinutes(30), "bounce-monitor",
            new Dictionary<string, string> { ["bounceRate"] = "0.12" });

        (await h.Guard.CheckAsync(Mail("r8@example.com", user: "u1"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("r9@example.com", user: "u1"))).IsAllowed.Should().BeTrue();
        EmailSendDecision reduced = await h.Guard.CheckAsync(Mail("r10@example.com", user: "u1"));
        reduced.Reason.Should().Be(EmailSendReason.LimitExceeded);
        reduced.Dimension.Should().Be(EmailGuardDimension.User);
        reduced.Usage[0].Limit.Should().Be(10);
        (await h.Guard.CheckAsync(Mail("r10@example.com", user: "other"))).IsAllowed.Should().BeTrue();

        h.Time.Advance(TimeSpan.FromMinutes(30));
        (await h.Guard.CheckAsync(Mail("r10@example.com", user: "u1"))).IsAllowed.Should().BeTrue();

        await h.Flags.FlagAsync(EmailGuardPartyType.User, "u1", EmailGuardFlagReasons.Complaint);
        (await h.Guard.CheckAsync(Mail("r11@example.com", user: "u1"))).IsAllowed.Should().BeFalse();
        (await h.Flags.ClearAsync(EmailGuardPartyType.User, "u1", clearedBy: "support")).Should().Be(1);
        (await h.Guard.CheckAsync(Mail("r11@example.com", user: "u1"))).IsAllowed.Should().BeTrue();

        IReadOnlyList<EmailGuardFlagEvent> events = await h.Flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyId = "u1" });
        events.Select(e => e.Kind).Should().Equal(EmailGuardFlagEventKind.Cleared, EmailGuardFlagEventKind.Flagged, EmailGuardFlagEventKind.Flagged);
        events[^1].Metadata.Should().ContainKey("bounceRate");
    }

    [Fact]
    public async Task SuspendedTenant_QueuedMailIsDeniedAtDequeue()
    {
        SendGuardHarness h = Create(o => o.Tenant.Add(RateLimitRule.PerHour(100)));
        OutboundEmail queued = Mail("customer@example.com", tenant: "trial-4711", sender: "orders@app.example");
        (await h.Guard.CheckAsync(queued)).IsAllowed.Should().BeTrue();

        await h.Flags.FlagAsync(EmailGuardPartyType.Tenant, "trial-4711", EmailGuardFlagReasons.Manual, TimeSpan.FromDays(7), "abuse-desk");
        EmailSendDecision atDequeue = await h.Guard.CheckAsync(queued);

        atDequeue.Reason.Should().Be(EmailSendReason.Suspended);
        atDequeue.Dimension.Should().Be(EmailGuardDimension.Tenant);
        atDequeue.RetryAfter.Should().Be(TimeSpan.FromDays(7));
        (await h.CountAsync(new EmailGuardStatusQuery { TenantId = "trial-4711" }, EmailGuardDimension.Tenant)).Should().Be(1);
        (await h.Guard.CheckAsync(Mail("customer@example.com", tenant: "acme"))).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Refund_AllowedDecision_RestoresEveryCounterExactly()
    {
        SendGuardHarness h = Create(o =>
        {
            foreach ((EmailGuardDimension _, SendGuardDimensionOptions rules) in AllDimensions(o))
            {
                rules.Add(RateLimitRule.PerHour(50)).Add(RateLimitRule.SlidingWindow(500, TimeSpan.FromDays(1), 24));
            }
        });
        OutboundEmail message = new()
        {
            To = ["a@one.example", "b@two.example"],
            Bcc = ["c@one.example"],
            TenantId = "acme",
            Sender = "noreply@app.example",
            UserId = "u1",
            Category = "share",
            ClientIp = IPAddress.Parse("2001:db8:1:2::99"),
        };
        EmailGuardStatusQuery query = new() { TenantId = "acme", Sender = "noreply@app.example", UserId = "u1", Category = "share", ClientIp = IPAddress.Parse("2001:db8:1:2::1"), Recipient = "c@one.example" };
        (await h.Guard.CheckAsync(message)).IsAllowed.Should().BeTrue();
        IReadOnlyList<EmailSendRuleUsage> before = await h.UsageAsync(query);

        h.Time.Advance(TimeSpan.FromMinutes(1));
        EmailSendDecision decision = await h.Guard.CheckAsync(message);
        decision.IsAllowed.Should().BeTrue();
        decision.IsRefundable.Should().BeTrue();
        (await h.UsageAsync(query)).Select(u => u.Count).Should().NotEqual(before.Select(u => u.Count));
        h.Time.Advance(TimeSpan.FromMinutes(1));
        (await h.Guard.RefundAsync(decision)).Should().BeTrue();

        (await h.UsageAsync(query)).Select(u => u.Count).Should().Equal(before.Select(u => u.Count));
    }

    [Fact]
    public async Task Refund_OneDecisionRefundedAgainAndAgainAndCopied_GivesBackOnce()
    {
        // The attacker's loop: 3/hour per recipient, and the app refunds whatever the provider "refused".
        SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(3)));
        EmailSendDecision first = await h.Guard.CheckAsync(Mail("victim@example.com"));
        await h.Guard.CheckAsync(Mail("victim@example.com"));
        await h.Guard.CheckAsync(Mail("victim@example.com"));
        EmailSendDecision copy = first;

        List<bool> refunds = [];
        for (int i = 0; i < 5; i++)
        {
            refunds.Add(await h.Guard.RefundAsync(i % 2 == 0 ? first : copy));
        }

        int allowed = 0;
        for (int i = 0; i < 10; i++)
        {
            allowed += (await h.Guard.CheckAsync(Mail("victim@example.com"))).IsAllowed ? 1 : 0;
        }

        refunds.Should().Equal(true, false, false, false, false);
        allowed.Should().Be(1, "one refunded permit, however many times it was refunded");
        (await h.CountAsync(new EmailGuardStatusQuery { Recipient = "victim@example.com" }, EmailGuardDimension.Recipient)).Should().Be(3);
    }

    [Fact]
    public async Task Refund_OfAnAllowedPeek_IsRefusedAndGivesNothingBack()
    {
        SendGuardHarness h = Create(o => o.Recipient.Add(RateLimitRule.PerHour(2)));
        await h.Guard.CheckAsync(Mail("victim@example.com"));

        List<bool> refunds = [];
        for (int i = 0; i < 6; i++)
        {
            EmailSendDecision peek = await h.Guard.PeekAsync(Mail("victim@example.com"));
            peek.IsAllowed.Should().BeTrue();
            peek.IsRefundable.Should().BeFalse();
            refunds.Add(await h.Guard.RefundAsync(peek));
        }

        int allowed = 0;
        for (int i = 0; i < 6; i++)
        {
            allowed += (await h.Guard.CheckAsync(Mail("victim@example.com"))).IsAllowed ? 1 : 0;
        }

        refunds.Should().AllBeEquivalentTo(false);
        allowed.Should().Be(1, "2/hour, one already taken; peeks took nothing and give nothing back");
        (await h.CountAsync(new EmailGuardStatusQuery { Recipient = "victim@example.com" }, EmailGuardDimension.Recipient)).Should().Be(2);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Refund_OfALocalFallbackAdmit_GoesToTheLocalStoreNeverToTheSharedOne(bool refundAfterRecovery)
    {
        // Arrange: the shared store unreachable from this instance; the local fallback admits one mail.
        FakeTimeProvider time = new(Start);
        SwitchableRateLimitStore shared = new(CreateStore(time));
        RateLimitRule rule = RateLimitRule.PerHour(5);
        SendGuardOptions options = new() { StateRefreshInterval = TimeSpan.Zero, FailureMode = StoreFailureMode.LocalFallback };
        options.Recipient.Add(rule);
        SendGuardHarness h = new(time, shared, CreateStateStore(time), options, null);
        shared.Down = true;
        EmailSendDecision local = await h.Guard.CheckAsync(Mail("victim@example.com"));
        bool refunded = !refundAfterRecovery && await h.Guard.RefundAsync(local);

        // Act: the store is back; one mail through it, then (in the second case) the refund.
        shared.Down = false;
        EmailSendDecision remote = await h.Guard.CheckAsync(Mail("victim@example.com"));
        await h.ResilientStore.WriteBack;
        if (refundAfterRecovery)
        {
            refunded = await h.Guard.RefundAsync(local);
        }

        bool again = await h.Guard.RefundAsync(local);

        // Assert: the shared count is its own admit plus the local admit written back, unless refunded before that.
        local.Reason.Should().Be(EmailSendReason.Allowed);
        remote.Reason.Should().Be(EmailSendReason.Allowed);
        (refunded, again).Should().Be((true, false));
        (await h.CountAsync(new EmailGuardStatusQuery { Recipient = "victim@example.com" }, EmailGuardDimension.Recipient))
            .Should().Be(refundAfterRecovery ? 2 : 1, "a local refund never frees a permit of the shared store");
        RateLimitEntry[] localEntry = new RateLimitEntry[1];
        await h.ResilientStore.LocalStore.PeekAsync(new[] { new RateLimitRequest(h.GuardImpl.Addresses.Get("victim@example.com").RecipientKey, rule, 0) }, localEntry);
        localEntry[0].Count.Should().Be(0, "the refund went back to the local store that admitted the mail");
    }

    [Fact]
    public async Task TenantLimitProvider_ManyChecks_OneLookupPerCacheLifetimeAndOverrideApplies()
    {
        CountingTenantLimitProvider provider = new(tenant => tenant == "big-customer" ? new TenantLimits { Rules = [RateLimitRule.PerHour(3)] } : null);
        FakeTimeProvider time = new(Start);
        SendGuardHarness h = Create(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(100));
            o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
        }, time, CreateStore(time), provider);

        int allowed = 0;
        for (int i = 0; i < 50; i++)
        {
            allowed += (await h.Guard.CheckAsync(Mail($"r{i}@example.com", tenant: "big-customer"))).IsAllowed ? 1 : 0;
        }

        allowed.Should().Be(3);
        provider.Calls("big-customer").Should().Be(1);
        time.Advance(TimeSpan.FromMinutes(1));
        await h.Guard.CheckAsync(Mail("x@example.com", tenant: "big-customer"));
        provider.Calls("big-customer").Should().Be(2);
        (await h.Guard.CheckAsync(Mail("x@example.com", tenant: "small"))).IsAllowed.Should().BeTrue();
    }

    private static IEnumerable<(EmailGuardDimension, SendGuardDimensionOptions)> AllDimensions(SendGuardOptions o) =>
    [
        (EmailGuardDimension.Global, o.Global),
        (EmailGuardDimension.Tenant, o.Tenant),
        (EmailGuardDimension.Sender, o.Sender),
        (EmailGuardDimension.User, o.User),
        (EmailGuardDimension.ClientIp, o.ClientIp),
        (EmailGuardDimension.Category, o.Category),
        (EmailGuardDimension.Recipient, o.Recipient),
        (EmailGuardDimension.RecipientDomain, o.RecipientDomain),
    ];
}
