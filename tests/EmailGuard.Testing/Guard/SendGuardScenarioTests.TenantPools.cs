using System.Collections.Concurrent;
using System.Globalization;
using EmailGuard;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// Tenant pools on every store: a rogue that opens many trial tenants gets one trial cap in all, not one per tenant,
/// exactly, across instances; a denial names the pool; other tenants are unaffected; a tenant moves between pools.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    /// <summary>
    /// Whether concurrent checks whose keys span slots admit exactly up to a limit: a cluster reserves slot by slot and
    /// gives back on a denial, so under contention it may deny what an oracle would admit (never admit more).
    /// </summary>
    protected virtual bool AdmitsExactlyAcrossSlots => true;

    [Fact]
    public async Task TenantPool_TwentyTrialTenantsOfNineSendsEach_ExactlyThePoolCapInAllAcrossInstances()
    {
        // Arrange: each trial tenant may send 9 a day on its own; all trial tenants together 50 a day.
        CountingTenantLimitProvider provider = new(t => t.StartsWith("trial-", StringComparison.Ordinal)
            ? new TenantLimits { Rules = [RateLimitRule.PerDay(9)], Pool = "trial" }
            : new TenantLimits { Rules = [RateLimitRule.PerDay(9)] });
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(4, o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(50)), provider);
        ConcurrentDictionary<string, int> admitted = new(StringComparer.Ordinal);
        int poolDenials = 0;

        // Act: 20 tenants × 12 attempts (more than their own 9), from 4 instances, all at one instant.
        TaskCompletionSource start = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task[] callers = [.. Enumerable.Range(0, 20 * 12).Select(i => Task.Run(async () =>
        {
            string tenant = string.Create(CultureInfo.InvariantCulture, $"trial-{i % 20}");
            await start.Task;
            EmailSendDecision decision = await instances[i % instances.Count].Guard.CheckAsync(Mail(string.Create(CultureInfo.InvariantCulture, $"r{i}@example.com"), tenant: tenant));
            if (decision.IsAllowed)
            {
                admitted.AddOrUpdate(tenant, 1, (_, n) => n + 1);
            }
            else if (decision.Partition == "pool:trial")
            {
                Interlocked.Increment(ref poolDenials);
            }
        }))];
        start.SetResult();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(2));

        // Assert: 50 in all, however the tenants split them; a tenant outside the pool still sends its own 9.
        int total = admitted.Values.Sum();
        if (AdmitsExactlyAcrossSlots)
        {
            total.Should().Be(50, "the trial pool admits 50 a day in all: {0}", string.Join(", ", admitted));
        }
        else
        {
            total.Should().BeInRange(9, 50, "the trial pool never admits more than 50 a day in all: {0}", string.Join(", ", admitted));
        }

        admitted.Values.Should().OnlyContain(n => n <= 9, "each tenant keeps its own cap too");
        poolDenials.Should().BePositive();
        IReadOnlyList<EmailSendRuleUsage> usage = await instances[0].UsageAsync(new EmailGuardStatusQuery { TenantId = "trial-0" });
        usage.Should().ContainSingle(u => u.Partition == "pool:trial").Which.Count.Should().Be(total, "the pool counts exactly what was admitted");
        for (int i = 0; i < 9; i++)
        {
            (await instances[i % instances.Count].Guard.CheckAsync(Mail($"p{i}@example.com", tenant: "paying"))).IsAllowed.Should().BeTrue("tenant 'paying' is in no pool");
        }
    }

    [Fact]
    public async Task TenantPool_Full_DenialNamesTheTenantDimensionAndThePool_WithRetryAfter_AndARefundGivesPermitsBack()
    {
        // Arrange: tenants without a plan (the provider has no limits for them) share 3 an hour.
        CountingTenantLimitProvider provider = new(t => t == "acme" ? new TenantLimits { Rules = [RateLimitRule.PerHour(100)] } : null);
        SendGuardHarness h = Create(
            o =>
            {
                o.Tenant.Add(RateLimitRule.PerHour(10));
                o.TenantPools["noplan"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(3));
                o.DefaultTenantPool = "noplan";
            },
            provider);
        EmailSendDecision first = await h.Guard.CheckAsync(Mail("a@example.com", tenant: "new-1"));
        (await h.Guard.CheckAsync(Mail("b@example.com", tenant: "new-2"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("c@example.com", tenant: "new-3"))).IsAllowed.Should().BeTrue();

        // Act
        EmailSendDecision denied = await h.Guard.CheckAsync(Mail("d@example.com", tenant: "new-4"));
        EmailSendDecision planned = await h.Guard.CheckAsync(Mail("e@example.com", tenant: "acme"));
        bool refunded = await h.Guard.RefundAsync(first);
        EmailSendDecision afterRefund = await h.Guard.CheckAsync(Mail("f@example.com", tenant: "new-5"));

        // Assert
        first.IsAllowed.Should().BeTrue();
        denied.Reason.Should().Be(EmailSendReason.LimitExceeded);
        denied.Dimension.Should().Be(EmailGuardDimension.Tenant);
        denied.Partition.Should().Be("pool:noplan");
        denied.RetryAfter.Should().BePositive().And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(55), "the hour window began at 10:00 and it is 10:05");
        planned.IsAllowed.Should().BeTrue("a tenant with a plan is in no pool unless its plan names one");
        planned.Usage.ToArray().Should().NotContain(u => u.Partition != null && u.Partition.StartsWith("pool:", StringComparison.Ordinal));
        refunded.Should().BeTrue();
        afterRefund.IsAllowed.Should().BeTrue("the refund gave the pool its permit back");
        (await h.Guard.CheckAsync(Mail("g@example.com", tenant: "new-6"))).Partition.Should().Be("pool:noplan");
    }

    [Fact]
    public async Task TenantPool_AllowlistedTenantSkipsItsPool_AndAFlagDoesNotReduceThePool()
    {
        // Arrange: a pool of 4; the flagged tenant's own 100 an hour is cut to a tenth.
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = "trial" });
        SendGuardHarness h = Create(o => o.TenantPools["Trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(4)), provider);
        await h.Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Tenant, "vip", "partner", addedBy: "ops");
        await h.Flags.FlagAsync(EmailGuardPartyType.Tenant, "flagged", EmailGuardFlagReasons.HighBounceRate, TimeSpan.FromHours(24), "ops");

        // Act: the flagged tenant (own cap 10 now) sends 4: the pool's 4, not 4 × 0.1.
        int flaggedAdmitted = 0;
        for (int i = 0; i < 6; i++)
        {
            flaggedAdmitted += (await h.Guard.CheckAsync(Mail($"f{i}@example.com", tenant: "flagged"))).IsAllowed ? 1 : 0;
        }

        EmailSendDecision vip = await h.Guard.CheckAsync(Mail("v@example.com", tenant: "vip"));

        // Assert
        flaggedAdmitted.Should().Be(4, "the pool, named 'trial' by the provider and 'Trial' in the options, is not the flagged tenant's alone");
        vip.IsAllowed.Should().BeTrue("a tenant allowlisted for the tenant dimension skips its pool too");
    }

    [Fact]
    public async Task TenantPool_ProviderMovesTheTenant_ItCountsInTheNewPoolAfterExpiryOrInvalidation()
    {
        // Arrange: 'grow' is a trial tenant; the trial pool (2 a day) is full.
        ConcurrentDictionary<string, string?> pools = new(StringComparer.Ordinal) { ["grow"] = "trial", ["other"] = "trial" };
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerDay(100)], Pool = pools[t] });
        SendGuardHarness h = Create(
            o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2));
                o.TenantPools["paid"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1_000));
                o.TenantLimitCacheDuration = TimeSpan.FromMinutes(1);
            },
            provider);
        (await h.Guard.CheckAsync(Mail("a@example.com", tenant: "grow"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("b@example.com", tenant: "grow"))).IsAllowed.Should().BeTrue();
        (await h.Guard.CheckAsync(Mail("c@example.com", tenant: "grow"))).Partition.Should().Be("pool:trial");

        // Act: the tenant upgrades; the cached answer still serves until it expires.
        pools["grow"] = "paid";
        EmailSendDecision cached = await h.Guard.CheckAsync(Mail("d@example.com", tenant: "grow"));
        await h.AdvanceAsync(TimeSpan.FromMinutes(2));
        EmailSendDecision expired = await h.Guard.CheckAsync(Mail("e@example.com", tenant: "grow"));

        // The other tenant is moved out of its pool at once, by invalidation.
        (await h.Guard.CheckAsync(Mail("f@example.com", tenant: "other"))).Partition.Should().Be("pool:trial");
        pools["other"] = null;
        EmailSendDecision beforeInvalidation = await h.Guard.CheckAsync(Mail("f@example.com", tenant: "other"));
        h.GuardImpl.InvalidateTenantLimits(["other"]);
        EmailSendDecision invalidated = await h.Guard.CheckAsync(Mail("g@example.com", tenant: "other"));

        // Assert
        cached.Partition.Should().Be("pool:trial", "the answer is cached for a minute");
        expired.IsAllowed.Should().BeTrue("after the cache expired the tenant counts in the paid pool");
        expired.Usage.ToArray().Should().ContainSingle(u => u.Partition == "pool:paid").Which.Count.Should().Be(1);
        beforeInvalidation.Partition.Should().Be("pool:trial", "its answer is cached");
        invalidated.IsAllowed.Should().BeTrue("after the invalidation the provider's new answer puts it in no pool");
        invalidated.Usage.ToArray().Should().NotContain(u => u.Partition != null && u.Partition.StartsWith("pool:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TenantPool_MessagesToSeveralRecipients_CostEachMail_AndARefundGivesThemBackExactlyOnce()
    {
        // Arrange: trial tenants share 5 mails an hour; each may send 100 on its own.
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [RateLimitRule.PerHour(100)], Pool = "trial" });
        SendGuardHarness h = Create(o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerHour(5)), provider);
        static OutboundEmail To(string tenant, params string[] to) => new() { To = to, TenantId = tenant };

        // Act: 3 mails, then 3 more from another tenant (6 > 5: the whole message is denied), then 2.
        EmailSendDecision three = await h.Guard.CheckAsync(To("t1", "a@example.com", "b@example.com", "c@example.com"));
        EmailSendDecision threeMore = await h.Guard.CheckAsync(To("t2", "d@example.com", "e@example.com", "f@example.com"));
        EmailSendDecision two = await h.Guard.CheckAsync(To("t2", "g@example.com", "h@example.com"));
        EmailSendDecision copy = three;
        bool[] refunds = [await h.Guard.RefundAsync(three), await h.Guard.RefundAsync(three), await h.Guard.RefundAsync(copy)];
        long afterRefund = (await h.UsageAsync(new EmailGuardStatusQuery { TenantId = "t1" })).Single(u => u.Partition == "pool:trial").Count;
        EmailSendDecision refilled = await h.Guard.CheckAsync(To("t3", "i@example.com", "j@example.com", "k@example.com"));
        EmailSendDecision oneMore = await h.Guard.CheckAsync(To("t4", "l@example.com"));

        // Assert
        three.IsAllowed.Should().BeTrue();
        three.Usage.ToArray().Should().ContainSingle(u => u.Partition == "pool:trial").Which.Cost.Should().Be(3, "a message to 3 recipients is 3 mails against the pool");
        threeMore.IsAllowed.Should().BeFalse();
        threeMore.Partition.Should().Be("pool:trial");
        two.IsAllowed.Should().BeTrue("the denied message took nothing from the pool");
        refunds.Should().Equal([true, false, false], "a decision, however often copied, is given back once");
        afterRefund.Should().Be(2, "the 3 mails came back, once");
        refilled.IsAllowed.Should().BeTrue();
        oneMore.IsAllowed.Should().BeFalse("2 + 3 fill the pool of 5");
        oneMore.Partition.Should().Be("pool:trial");
    }
}
