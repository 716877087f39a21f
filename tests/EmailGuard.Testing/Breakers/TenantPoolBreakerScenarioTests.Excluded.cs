using EmailGuard;
using FluentAssertions;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EmailGuard.Testing.Breakers;

/// <summary>
/// A pool the operator excludes from the breakers (<see cref="EmailRatioBreakerOptions.ExcludedTenantPools"/>): a pool of
/// paying tenants that should share a cap, not a suspension. Its ratios are counted, it is never tripped, and each of its
/// tenants is still judged on its own.
/// </summary>
public abstract partial class TenantPoolBreakerScenarioTests
{
    [Fact]
    public async Task ExcludedPool_15PercentOfItsMailBounces_NeverTripped_CapStillHolds_RatiosStillCounted()
    {
        // Arrange: the trial pool excluded, named in another case than its configuration's.
        (IServiceProvider feedback, IServiceProvider checks) = Instances(o => o.ExcludedTenantPools.Add("Trial"));
        List<EmailSendAttribution> trial = await SendTrialAsync(checks);

        // Act: the 150 bounces that reduce and then suspend the pool when it is judged.
        await BounceAsync(feedback, trial.Take(150));
        await RefreshAsync(checks);
        EmailSendDecision after = await CheckAsync(checks, "trial-3", "after-bounces");

        // Assert: no pool trip, no pool flag; the pool still caps its tenants at its full 5,000 an hour, and its
        // ratios are counted for the operator.
        Trips.Should().NotContain(t => t.TenantPool != null);
        (await feedback.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.TenantPool, "trial")).Should().BeEmpty();
        after.IsAllowed.Should().BeTrue($"{after.Reason} {after.Partition}");
        after.Usage.ToArray().Should().ContainSingle(u => u.Partition == "pool:trial").Which.Limit.Should().Be(5_000, "the pool's cap holds, not reduced");
        EmailGuardStatus status = await checks.GetRequiredService<IEmailSendGuard>().GetStatusAsync(new EmailGuardStatusQuery { TenantPool = "trial" });
        EmailPartyRatioStatus pool = status.Ratios.Should().ContainSingle(r => r.Counts.Partition == "pool:trial").Subject;
        (pool.Counts.Sends, pool.Counts.Bounces, pool.BreakerState).Should().Be((1_001L, 150L, EmailRatioBreakerState.Closed));
    }

    [Fact]
    public async Task ExcludedPool_ATenantOfItOverTheLine_TheTenantIsStillTripped_NotThePool()
    {
        // Arrange: one tenant of the excluded pool sends past the minimum volume.
        (IServiceProvider feedback, IServiceProvider checks) = Instances(o => o.ExcludedTenantPools.Add("trial"));
        List<EmailSendAttribution> mails = [];
        for (int i = 0; i < 100; i++)
        {
            EmailSendDecision decision = await CheckAsync(checks, "trial-1", "m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            decision.IsAllowed.Should().BeTrue();
            mails.Add(decision.Attribution!);
        }

        // Act: 5 % of its mail bounces (the suspend line is 4 %).
        await BounceAsync(feedback, mails.Take(5));
        await RefreshAsync(checks);

        // Assert: the tenant is judged and held by its own breaker; the pool is not, so its other tenants send.
        Trips.Should().NotContain(t => t.TenantPool != null);
        Trips.Should().Contain(t => t.Dimension == EmailGuardDimension.Tenant && t.Partition == "trial-1");
        (await CheckAsync(checks, "trial-1", "after")).IsAllowed.Should().BeFalse();
        (await CheckAsync(checks, "trial-2", "after")).IsAllowed.Should().BeTrue("the pool is not judged, and trial-2 sent nothing that bounced");
    }
}
