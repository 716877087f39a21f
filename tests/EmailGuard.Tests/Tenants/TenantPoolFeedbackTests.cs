using System.Globalization;
using EmailGuard.Testing.Guard;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// The pool a send counts for in the ratios is the pool its check decided with, on every path: the send counters taken
/// in the check's store call, a send counted on its own, a refund's give-back and the attribution its bounces come back by.
/// </summary>
public sealed class TenantPoolFeedbackTests
{
    private static readonly RateLimitRule s_own = RateLimitRule.PerHour(100);

    [Fact]
    public async Task FullLimitCache_NewTrialTenants_TheirSendsAndBouncesCountForTheirPool()
    {
        // Arrange: a rogue floods the limit cache with tenant ids, so its new trial tenants are looked up uncached.
        CountingTenantLimitProvider provider = new(t => t.StartsWith("trial-", StringComparison.Ordinal)
            ? new TenantLimits { Rules = [s_own], Pool = "trial" }
            : new TenantLimits { Rules = [] });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1_000));
                o.TenantPools["noplan"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1_000));
                o.DefaultTenantPool = "noplan";
            },
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await FloodAsync(sp);

        // Act: three new trial tenants send one mail each; the first one's mail bounces.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 3; i++)
        {
            decisions.Add(await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = $"trial-{i}" }));
        }

        await BounceAsync(sp, decisions[0].Attribution!);

        // Assert: counted, attributed and bounced in the pool the caps counted them in, never in the default pool.
        decisions.Should().OnlyContain(d => d.IsAllowed);
        decisions.Select(d => d.Usage.ToArray().Count(u => u.Partition == "pool:trial")).Should().Equal([1, 1, 1], "the caps counted the mail in the trial pool");
        decisions.Select(d => d.Attribution!.TenantPool).Should().Equal(["trial", "trial", "trial"]);
        EmailFeedbackCounts trial = await PoolCountsAsync(sp, "trial");
        (trial.Sends, trial.Bounces).Should().Be((3L, 1L));
        EmailFeedbackCounts noPlan = await PoolCountsAsync(sp, "noplan");
        (noPlan.Sends, noPlan.Bounces).Should().Be((0L, 0L), "the default pool did not send this mail");
    }

    [Fact]
    public async Task FullLimitCache_SendCountedOnItsOwn_CountsForThePoolOfItsCheck()
    {
        // Arrange: a plan too large to carry the send counters (1,364 recipients at their own domains, 3 counters each,
        // and the tenant's and its pool's), so the send is counted in a store call of its own, after the check.
        CountingTenantLimitProvider provider = new(t => new TenantLimits { Rules = [RateLimitRule.PerHour(10_000)], Pool = t.StartsWith("trial-", StringComparison.Ordinal) ? "trial" : null });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.MaxRecipientsPerMessage = 1_364;
                o.Recipient.Add(RateLimitRule.PerHour(5)).Add(RateLimitRule.PerDay(20));
                o.RecipientDomain.Add(RateLimitRule.PerHour(1_000));
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(10_000));
            },
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await FloodAsync(sp);

        // Act
        EmailSendDecision decision = await guard.CheckAsync(new OutboundEmail { To = [.. Enumerable.Range(0, 1_364).Select(i => $"r{i}@d{i}.example")], TenantId = "trial-big" });

        // Assert
        decision.IsAllowed.Should().BeTrue($"{decision.Reason} {decision.Partition}");
        decision.Usage.ToArray().Should().Contain(u => u.Partition == "pool:trial");
        (await PoolCountsAsync(sp, "trial")).Sends.Should().Be(1_364, "one send per mail, for the pool the check counted the mail in");
        decision.Attribution!.TenantPool.Should().Be("trial");
    }

    [Fact]
    public async Task PoolChangedBetweenTheCheckAndItsAttribution_AttributionAndRefundStayWithThePoolOfTheCheck()
    {
        // Arrange: 'grow' is a trial tenant.
        string? pool = "trial";
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [s_own], Pool = pool });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o =>
            {
                o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(100));
                o.TenantPools["paid"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(1_000));
            },
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        EmailSendDecision first = await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = "grow" });
        EmailSendDecision refunded = await guard.CheckAsync(new OutboundEmail { To = ["b@example.com"], TenantId = "grow" });

        // Act: the tenant upgrades before the app reads the first decision's attribution (a queue's worker, later).
        pool = "paid";
        sp.GetRequiredService<EmailSendGuard>().InvalidateTenantLimits(["grow"]);
        EmailSendDecision upgraded = await guard.CheckAsync(new OutboundEmail { To = ["c@example.com"], TenantId = "grow" });
        EmailSendAttribution attribution = first.Attribution!;
        bool refund = await guard.RefundAsync(refunded);
        await BounceAsync(sp, attribution);

        // Assert: the first mail's send and its bounce are the trial pool's; the refund gave back the trial pool's send.
        upgraded.Usage.ToArray().Should().Contain(u => u.Partition == "pool:paid");
        attribution.TenantPool.Should().Be("trial", "the check counted the mail in the trial pool");
        upgraded.Attribution!.TenantPool.Should().Be("paid");
        refund.Should().BeTrue();
        EmailFeedbackCounts trial = await PoolCountsAsync(sp, "trial");
        (trial.Sends, trial.Bounces).Should().Be((1L, 1L), "two trial sends, one refunded, and the first one's bounce");
        EmailFeedbackCounts paid = await PoolCountsAsync(sp, "paid");
        (paid.Sends, paid.Bounces).Should().Be((1L, 0L), "the upgraded tenant's one mail since");
    }

    [Fact]
    public async Task AllowlistedTenant_SkipsItsPoolsCapAndFlags_ButItsSendsAndBouncesCountInThePoolsRatios()
    {
        // Arrange: every tenant is a trial tenant; the pool takes 2 a day; the allowlisted partner has never been looked up.
        CountingTenantLimitProvider provider = new(_ => new TenantLimits { Rules = [s_own], Pool = "trial" });
        await using ServiceProvider sp = SendGuardTestServices.Build(
            o => o.TenantPools["trial"] = new SendGuardDimensionOptions().Add(RateLimitRule.PerDay(2)),
            more: s => s.AddSingleton<ITenantLimitProvider>(provider));
        IEmailSendGuard guard = sp.GetRequiredService<IEmailSendGuard>();
        await sp.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Tenant, "vip", "partner", addedBy: "ops");

        // Act: the partner sends 3 (over the pool's 2); its second mail bounces.
        List<EmailSendDecision> decisions = [];
        for (int i = 0; i < 3; i++)
        {
            decisions.Add(await guard.CheckAsync(new OutboundEmail { To = [$"v{i}@example.com"], TenantId = "vip" }));
        }

        await BounceAsync(sp, decisions[1].Attribution!);

        // Assert: held by neither the pool's cap nor its own; counted in the pool as the provider delivers it.
        decisions.Should().OnlyContain(d => d.IsAllowed);
        decisions[0].Usage.ToArray().Should().NotContain(u => u.Dimension == EmailGuardDimension.Tenant, "the allowlisted tenant skips its own cap and its pool's");
        decisions.Select(d => d.Attribution!.TenantPool).Should().Equal(["trial", "trial", "trial"]);
        EmailFeedbackCounts trial = await PoolCountsAsync(sp, "trial");
        (trial.Sends, trial.Bounces).Should().Be((3L, 1L), "the pool's ratios count every mail of its tenants that the provider delivers");
    }

    /// <summary>Fills the tenant limit cache with fresh answers for made-up tenants, after the state's first load (which expires every answer).</summary>
    private static async Task FloodAsync(ServiceProvider sp)
    {
        (await sp.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = ["first@example.com"], TenantId = "paying" })).IsAllowed.Should().BeTrue();
        TenantLimitCache cache = sp.GetRequiredService<EmailSendGuard>().TenantLimits;
        for (int i = 0; i < TenantLimitCache.DefaultMaxTenants; i++)
        {
            await cache.GetAsync(string.Create(CultureInfo.InvariantCulture, $"flood-{i}"), [], default);
        }
    }

    private static async Task BounceAsync(ServiceProvider sp, EmailSendAttribution attribution)
    {
        EmailFeedbackResult result = await sp.GetRequiredService<IEmailGuardFeedback>().RecordAsync(new EmailFeedbackEvent
        {
            Provider = "ses",
            ProviderEventId = "bounce-" + attribution.SendId,
            Recipient = "bounced-" + attribution.SendId + "@example.com",
            Kind = EmailFeedbackKind.Bounced,
            BounceType = EmailBounceType.Permanent,
            Attribution = attribution,
        });
        result.Outcome.Should().Be(EmailFeedbackOutcome.Recorded);
    }

    private static ValueTask<EmailFeedbackCounts> PoolCountsAsync(ServiceProvider sp, string pool)
        => sp.GetRequiredService<EmailGuardFeedback>().GetAsync(FeedbackKeys.TenantPool, pool);
}
