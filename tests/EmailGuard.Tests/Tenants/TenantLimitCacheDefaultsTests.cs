using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// A provider that answers null means "the default tenant rules" (ITenantLimitProvider): not the tenant's last answer,
/// and not the defaults of whichever caller happened to start the lookup.
/// </summary>
public sealed class TenantLimitCacheDefaultsTests
{
    private static readonly RateLimitRule[] Defaults = [RateLimitRule.PerHour(50)];

    [Fact]
    public async Task GetAsync_CustomLimitsRemovedAndInvalidated_TheDefaultsApply_NotTheOldCustomLimits()
    {
        // Arrange: a tenant with its own 10,000 an hour, then cut back to the default plan (its row removed: null).
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        SwitchProvider provider = new() { Answer = new TenantLimits { Rules = [RateLimitRule.PerHour(10_000)] } };
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time);
        (await cache.GetAsync("rogue", Defaults, default)).Should().Equal(RateLimitRule.PerHour(10_000));

        // Act
        provider.Answer = null;
        cache.Invalidate("rogue");
        RateLimitRule[] rules = await cache.GetAsync("rogue", Defaults, default);

        // Assert
        provider.Calls.Should().Be(2);
        rules.Should().Equal(Defaults, "the provider said the tenant has no limits of its own any more");
    }

    [Fact]
    public async Task GetAsync_FirstLookupStartedByAWeightLookup_TheCheckGetsTheDefaults_NotNoLimit()
    {
        // Arrange: the fair share (or the dashboard's budget read) looks the weight up first, with no default rules.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        SwitchProvider provider = new() { Answer = null };
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time);
        await cache.GetAsync("acme", [], default);

        // Act
        RateLimitRule[] rules = await cache.GetAsync("acme", Defaults, default);

        // Assert
        provider.Calls.Should().Be(1);
        rules.Should().Equal(Defaults, "an empty list lifts the tenant's limit; the weight lookup's empty defaults must not be cached as the answer");
    }

    private sealed class SwitchProvider : ITenantLimitProvider
    {
        private int _calls;

        public TenantLimits? Answer { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return new(Answer);
        }
    }
}
