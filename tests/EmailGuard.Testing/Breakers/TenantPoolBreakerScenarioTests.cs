using System.Globalization;
using EmailGuard;
using EmailGuard.Testing.Guard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// The ratio breakers judge a tenant pool as a party, on every store: a rogue that spreads its bounces over 200 trial
/// tenants, 5 sends each (under <see cref="EmailRatioBreakerOptions.MinimumSends"/>, so no tenant is ever judged), trips
/// the trial pool: reduced, then suspended, then half-open and recovered. A paying tenant outside the pool keeps
/// sending throughout. Two app instances: one records the feedback, the other checks the mail (one and the same
/// instance on a store that is not shared).
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    private volatile bool _upgraded;

    [Fact]
    public async Task TrialPool_RogueSpreadOver200TenantsUnderTheMinimum_PoolReducedThenSuspended_PayingTenantSends_OperatorClears()
    {
        // Arrange: 200 trial tenants send 5 each (1,000), the paying tenant 100.
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        await SendAsync(checks, "paying", 100, "p");

        // Act: 15 % of the trial mail bounces, one bounce per tenant for the first 150 tenants (1 in 5 each, never judged).
        await BounceAsync(feedback, trial.Take(20));
        await RefreshAsync(checks);
        EmailSendDecision reduced = await CheckAsync(checks, "trial-7", "after-reduced");
        EmailSendDecision payingWhileReduced = await CheckAsync(checks, "paying", "p-while-reduced");
        await BounceAsync(feedback, trial.Skip(20).Take(130));
        await RefreshAsync(checks);
        EmailSendDecision suspended = await CheckAsync(checks, "trial-3", "after-suspended");
        EmailSendDecision newTrial = await CheckAsync(checks, "trial-new", "new-tenant");
        EmailSendDecision payingWhileSuspended = await CheckAsync(checks, "paying", "p-while-suspended");

        // Assert: 20 in 1,000 is the 2 % reduce line, 40 in 1,000 the 4 % suspend line, whichever instance recorded them.
        Trips.Where(t => t.TenantPool is not null).Select(t => (t.TenantPool, t.Dimension, t.Partition, t.Action, t.Level)).Should().Equal(
            ("trial", EmailGuardDimension.Tenant, "pool:trial", EmailRatioBreakerAction.Reduced, 1),
            ("trial", EmailGuardDimension.Tenant, "pool:trial", EmailRatioBreakerAction.Suspended, 1));
        Trips.Should().NotContain(t => t.Dimension == EmailGuardDimension.Tenant && t.TenantPool == null, "no trial tenant ever reaches the minimum volume");
        reduced.Should().BeEquivalentTo(
            new { Reason = EmailSendReason.LimitExceeded, Dimension = EmailGuardDimension.Tenant, Partition = "pool:trial" },
            o => o.ExcludingMissingMembers(), "the pool's 5,000 an hour is cut to 500, and its tenants sent 1,000");
        payingWhileReduced.IsAllowed.Should().BeTrue("the paying tenant is in no pool");
        suspended.Should().BeEquivalentTo(
            new { Reason = EmailSendReason.Suspended, Dimension = EmailGuardDimension.Tenant, Partition = "pool:trial", Detail = "Suspended: high_bounce_rate" },
            o => o.ExcludingMissingMembers());
        newTrial.Reason.Should().Be(EmailSendReason.Suspended, "every tenant of the pool is held, also one that never sent");
        payingWhileSuspended.IsAllowed.Should().BeTrue();
        IEmailGuardFlags flags = feedback.GetRequiredService<IEmailGuardFlags>();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "trial-0")).Should().BeEmpty("no tenant is flagged, only the pool");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial")).Should().Contain(f => f.Suspend && f.Reason == EmailGuardFlagReasons.HighBounceRate);

        // The operator's view: the tenant's status shows its pool's flag and the pool's ratios, last.
        EmailGuardStatus status = await checks.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-0" });
        status.Flags.Should().Contain(f => f.PartyType == EmailGuardPartyType.TenantPool && f.PartyId == "trial" && f.Suspend);
        EmailPartyRatioStatus pool = status.Ratios[^1];
        (pool.Counts.Partition, pool.Counts.Sends, pool.Counts.Bounces, pool.BreakerState, pool.BreakerAction).Should().Be(
            ("pool:trial", 1_000L, 150L, EmailRatioBreakerState.Tripped, EmailRatioBreakerAction.Suspended));

        // The operator clears the pool as a tenant is cleared: its tenants send again at once, at the pool's full cap.
        (await flags.ClearAsync(EmailGuardPartyType.TenantPool, "trial", comment: "the rogue's tenants are closed", clearedBy: "ops")).Should().Be(2, "the trip and its half-open phase");
        await RefreshAsync(checks);
        (await CheckAsync(checks, "trial-3", "after-clear")).IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task TrialPool_Suspended_HalfOpenProbeUnderTheLine_RecoversOnce_AtFullCap()
    {
        // Arrange: the pool suspended at 40 bounces in 1,000 trial sends.
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        await BounceAsync(feedback, trial.Take(40));
        Trips.Where(t => t.TenantPool is not null).Select(t => t.Action).Should().Equal(EmailRatioBreakerAction.Reduced, EmailRatioBreakerAction.Suspended);

        // Act: the trip ends; half-open, the pool's tenants send a probe of 60 with one bounce (1.7 %, under the 2 % line).
        await AdvanceAsync(TripFor + TimeSpan.FromSeconds(1));
        await RefreshAsync(checks);
        EmailPartyRatioStatus halfOpen = (await checks.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantId = "trial-0" })).Ratios[^1];
        List<EmailSendAttribution> probe = [];
        for (int i = 0; i < 60; i++)
        {
            EmailSendDecision decision = await CheckAsync(checks, Tenant(i), "probe" + i.ToString(CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue($"half-open at a tenth of 5,000 an hour: {decision.Reason} {decision.Partition}");
            probe.Add(decision.Attribution!);
        }

        await BounceAsync(feedback, probe.Take(1));
        await AdvanceAsync(HalfOpenFor);
        await RefreshAsync(checks);

        // Assert: recovered, raised once whichever instances follow the phase; the pool's full cap applies again.
        halfOpen.BreakerState.Should().Be(EmailRatioBreakerState.HalfOpen);
        Trips.Where(t => t.TenantPool is not null).Should().HaveCount(2, "the probe stayed under the line");
        Recoveries.Where(r => r.TenantPool is not null).Should().ContainSingle().Which.Should().BeEquivalentTo(
            new { TenantPool = "trial", Dimension = EmailGuardDimension.Tenant, Partition = "pool:trial", ProbeSends = 60L, ProbeFailures = 1L, Level = 1 },
            o => o.ExcludingMissingMembers());
        (await feedback.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial")).Should().BeEmpty();
        EmailSendDecision after = await CheckAsync(checks, "trial-9", "after-recovery");
        after.IsAllowed.Should().BeTrue();
        after.Usage.ToArray().Should().ContainSingle(u => u.Partition == "pool:trial").Which.Limit.Should().Be(5_000, "the pool is no longer reduced");
    }

    [Fact]
    public async Task TrialTenantsMovedOutOfThePoolBeforeTheirBouncesCome_TheBouncesStillCountForThePool()
    {
        // Arrange: the 200 trial tenants send, then upgrade to a plan in no pool before their mail bounces.
        (IServiceProvider feedback, IServiceProvider checks) = Instances();
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);
        _upgraded = true;
        await feedback.GetRequiredService<IEmailGuardTenantLimits>().InvalidateAllAsync();
        await RefreshAsync(checks);
        EmailSendDecision upgraded = await CheckAsync(checks, "trial-1", "upgraded");

        // Act
        await BounceAsync(feedback, trial.Take(40));
        await RefreshAsync(checks);

        // Assert: the pool was attributed when the mail was checked, so its bounces stay the pool's; the upgraded
        // tenants are no longer held by it, a tenant still in it is.
        upgraded.Attribution!.TenantPool.Should().BeNull("the upgraded tenant is in no pool");
        Trips.Where(t => t.TenantPool is not null).Select(t => (t.TenantPool, t.Action)).Should().Equal(
            ("trial", EmailRatioBreakerAction.Reduced), ("trial", EmailRatioBreakerAction.Suspended));
        (await CheckAsync(checks, "trial-3", "after-upgrade")).IsAllowed.Should().BeTrue("trial-3 is in no pool now");
        (await CheckAsync(checks, "trial-new", "still-trial")).Reason.Should().Be(EmailSendReason.Suspended);
    }

    private static async Task SendAsync(IServiceProvider instance, string tenant, int count, string prefix)
    {
        for (int i = 0; i < count; i++)
        {
            (await CheckAsync(instance, tenant, prefix + i.ToString(CultureInfo.InvariantCulture))).IsAllowed.Should().BeTrue();
        }
    }

    private static async Task BounceAsync(IServiceProvider instance, IEnumerable<EmailSendAttribution> mails)
    {
        foreach (EmailSendAttribution mail in mails)
        {
            await BounceAsync(instance, mail);
        }
    }
}
