using EmailGuard;
using FluentAssertions;
using Xunit;

namespace EmailGuard.Testing.Guard;

/// <summary>
/// The admin's view of the provider budget (<see cref="IEmailSendGuard.GetProviderBudgetAsync"/>) on every store: two
/// instances sharing one backend show the same window, the same active tenants, and each one's weight, share and use.
/// </summary>
public abstract partial class SendGuardScenarioTests
{
    private const string WeightedTenant = "acme";
    private const string LightTenant = "bakery";
    private const string UnicodeTenant = "Müller & Söhne 租户";

    [Fact]
    public async Task ProviderBudget_TwoInstances_ShowTheSameWindowTenantsSharesAndUse()
    {
        // Arrange: 100 an hour shared from the first mail (threshold 0); acme weighs 3, bakery 1, the third tenant is
        // unknown to the provider (default weight 1); a token bucket paces the account and is not shared.
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(2, BudgetPolicy(threshold: 0), Weights());

        // Act: acme sends on both instances, the others on the second.
        await SendAsync(instances[0], WeightedTenant, 10);
        await SendAsync(instances[1], LightTenant, 10);
        await SendAsync(instances[1], UnicodeTenant, 2);
        await SendAsync(instances[1], WeightedTenant, 1);
        EmailProviderBudget first = await instances[0].Guard.GetProviderBudgetAsync();
        EmailProviderBudget second = await instances[1].Guard.GetProviderBudgetAsync();

        // Assert: W = 3 + 1 + 1 = 5, so shares of the contended 100 are 60, 20 and 20, whichever instance reads.
        foreach (EmailProviderBudget budget in new[] { first, second })
        {
            budget.IsStoreAvailable.Should().BeTrue();
            budget.IsFairShareEnabled.Should().BeTrue();
            budget.Rules.Should().HaveCount(2);
            budget.Rules[0].Rule.Algorithm.Should().Be(RateLimitAlgorithm.TokenBucket);
            budget.Rules[0].IsShared.Should().BeFalse("a token bucket is a rate, not a budget");
            budget.Rules[0].Tenants.Should().BeEmpty();

            EmailProviderBudgetRule hourly = budget.Rules[1];
            (hourly.Limit, hourly.Used, hourly.Remaining).Should().Be((100L, 23L, 77L));
            (hourly.IsShared, hourly.ContentionThreshold, hourly.IsContended).Should().Be((true, 0L, true));
            hourly.ActiveTenantCount.Should().Be(3, "acme is listed once though both instances saw it");
            hourly.ActiveWeight.Should().BeApproximately(5, 1e-9);
            hourly.ResetAt.Should().Be(new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero));
            hourly.Tenants.Select(t => (t.TenantId, t.Weight, t.HasDefaultWeight, t.Share, t.Used)).Should().Equal(
                (WeightedTenant, 3.0, false, 60L, 11L),
                (LightTenant, 1.0, false, 20L, 10L),
                (UnicodeTenant, 1.0, true, 20L, 2L));
        }
    }

    [Fact]
    public async Task ProviderBudget_BelowTheThreshold_NotContended_AndANewWindowStartsEmpty()
    {
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(2, BudgetPolicy(threshold: 0.2), Weights());
        await SendAsync(instances[0], WeightedTenant, 5);
        await SendAsync(instances[1], LightTenant, 5);

        EmailProviderBudgetRule quiet = (await instances[1].Guard.GetProviderBudgetAsync()).Rules[1];
        instances[0].Time.Advance(TimeSpan.FromHours(1));
        EmailProviderBudgetRule next = (await instances[1].Guard.GetProviderBudgetAsync()).Rules[1];

        (quiet.Used, quiet.ContentionThreshold, quiet.IsContended, quiet.ActiveTenantCount).Should().Be((10L, 20L, false, 2L));
        quiet.Tenants.Select(t => (t.TenantId, t.Share, t.Used)).Should().Equal(
            (WeightedTenant, 60L, 0L), (LightTenant, 20L, 0L)); // the share of the contended 80 by weight 3 + 1; nothing taken of it yet
        (next.Used, next.IsContended, next.ActiveTenantCount).Should().Be((0L, false, 0L));
        next.Tenants.Should().BeEmpty("a tenant is active in a window only once it sends in it");
    }

    [Fact]
    public async Task ProviderBudget_ManyTenants_ListsTheFirstHundred_AndCountsThemAll()
    {
        // An attacker who creates tenants cannot make the admin page read without bound.
        SendGuardHarness guard = CreateInstances(1, BudgetPolicy(threshold: 0, limit: 1_000), Weights())[0];
        for (int i = 0; i < 120; i++)
        {
            await SendAsync(guard, $"new-tenant-{i}", 1);
        }

        EmailProviderBudgetRule hourly = (await guard.Guard.GetProviderBudgetAsync()).Rules[1];

        hourly.ActiveTenantCount.Should().Be(120);
        hourly.Tenants.Should().HaveCount(EmailProviderBudgetRule.MaxListedTenants);
        hourly.Tenants.Select(t => t.TenantId).Should().Equal(Enumerable.Range(0, 100).Select(i => $"new-tenant-{i}"));
        hourly.ActiveWeight.Should().Be(10, "default-weight tenants weigh at most MaxDefaultWeightTotal together");
    }

    [Fact]
    public async Task ProviderBudget_TenantLookups_RunSideBySide_NotOneAfterAnother()
    {
        // The instance that reads has never seen the tenants, so it asks the tenant limit provider for each listed one.
        // One after another, a slow tenant database made the admin page wait once per tenant (a hundred lookups, each
        // up to the provider timeout); side by side it waits about once. The provider below answers only when all
        // four lookups are in flight (or after 5 s, when they are not).
        GatedTenantLimitProvider provider = new(Weights());
        IReadOnlyList<SendGuardHarness> instances = CreateInstances(2, BudgetPolicy(threshold: 0), provider);
        string[] tenants = [WeightedTenant, LightTenant, "carpenter", "dentist"];
        foreach (string tenant in tenants)
        {
            await SendAsync(instances[0], tenant, 1);
        }

        provider.Gate(tenants.Length);
        EmailProviderBudgetRule hourly = (await instances[1].Guard.GetProviderBudgetAsync()).Rules[1];

        provider.MostInFlight.Should().Be(tenants.Length);
        hourly.Tenants.Select(t => (t.TenantId, t.Weight)).Should().Equal((WeightedTenant, 3.0), (LightTenant, 1.0), ("carpenter", 1.0), ("dentist", 1.0));
    }

    [Fact]
    public async Task ProviderBudget_FairShareOff_ShowsTheGlobalRulesOnly()
    {
        SendGuardHarness guard = Create(o => o.Global.Add(RateLimitRule.PerHour(100)));
        await SendAsync(guard, WeightedTenant, 3);

        EmailProviderBudget budget = await guard.Guard.GetProviderBudgetAsync();

        budget.IsFairShareEnabled.Should().BeFalse();
        EmailProviderBudgetRule hourly = budget.Rules.Should().ContainSingle().Subject;
        (hourly.Used, hourly.Remaining, hourly.IsShared, hourly.ActiveTenantCount).Should().Be((3L, 97L, false, 0L));
        hourly.Tenants.Should().BeEmpty();
    }

    private static Action<SendGuardOptions> BudgetPolicy(double threshold, int limit = 100) => o =>
    {
        o.Global.Add(RateLimitRule.TokenBucket(1_000, TimeSpan.FromSeconds(1), 1_000));
        o.Global.Add(RateLimitRule.PerHour(limit));
        o.Tenant.Add(RateLimitRule.PerHour(60));
        o.FairShare.Enabled = true;
        o.FairShare.ContentionThreshold = threshold;
        o.FairShare.RefreshInterval = TimeSpan.FromHours(1);
    };

    private static CountingTenantLimitProvider Weights() => new(tenant => tenant switch
    {
        WeightedTenant => new TenantLimits { FairShareWeight = 3 },
        LightTenant => new TenantLimits { FairShareWeight = 1 },
        _ => null,
    });

    private static async Task SendAsync(SendGuardHarness guard, string tenant, int count)
    {
        for (int i = 0; i < count; i++)
        {
            EmailSendDecision decision = await guard.Guard.CheckAsync(new OutboundEmail { To = [$"to{i}@customers.example"], TenantId = tenant });
            decision.IsAllowed.Should().BeTrue("{0} is within every limit: {1}", tenant, decision);
        }
    }

    /// <summary>A tenant limit provider that, once gated, holds each lookup until the given number are in flight together.</summary>
    private sealed class GatedTenantLimitProvider(ITenantLimitProvider inner) : ITenantLimitProvider
    {
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected;
        private int _inFlight;
        private int _mostInFlight;

        public int MostInFlight => Volatile.Read(ref _mostInFlight);

        public void Gate(int expected) => Volatile.Write(ref _expected, expected);

        public async ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            int expected = Volatile.Read(ref _expected);
            if (expected > 0)
            {
                int inFlight = Interlocked.Increment(ref _inFlight);
                int most;
                while (inFlight > (most = Volatile.Read(ref _mostInFlight)) && Interlocked.CompareExchange(ref _mostInFlight, inFlight, most) != most)
                {
                }

                if (inFlight >= expected)
                {
                    _all.TrySetResult();
                }

                await Task.WhenAny(_all.Task, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
                Interlocked.Decrement(ref _inFlight);
            }

            return await inner.GetLimitsAsync(tenantId, cancellationToken);
        }
    }
}
