using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// The sweep of a full tenant cache against a lookup of the tenant it is sweeping: a weight the new lookup wrote is
/// not removed with the old entry, or the tenant's fair-share weight is unknown (the default applies, and every check
/// takes the slow path) until the new answer expires.
/// </summary>
public sealed class TenantLimitCacheSweepRaceTests
{
    [Fact]
    public async Task Sweep_TenantLookedUpAgainBetweenItsEntryAndItsWeight_KeepsTheNewWeight()
    {
        // Arrange: a full cache (2 tenants) of expired answers, each with weight 3.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 4, 0, 0, TimeSpan.Zero));
        TenantLimitCache cache = new(new WeightedProvider(), TimeSpan.FromMinutes(1), time, maxTenants: 2);
        await cache.GetAsync("a", [], default);
        await cache.GetAsync("b", [], default);
        time.Advance(TimeSpan.FromMinutes(2));

        // The interleaving: right after the sweep removed "a"'s entry, a check looks "a" up again.
        bool lookedUpAgain = false;
        cache.EntrySwept = tenant =>
        {
            if (tenant == "a" && !lookedUpAgain)
            {
                lookedUpAgain = true;
                _ = cache.GetAsync("a", [], default);
            }
        };

        // Act: a new tenant finds the cache full, which sweeps it.
        await cache.GetAsync("c", [], default);

        // Assert
        lookedUpAgain.Should().BeTrue();
        cache.TryGetWeight("a", out double? weight).Should().BeTrue("the new lookup's weight stays");
        weight.Should().Be(3);
        cache.TryGetWeight("b", out _).Should().BeFalse("a tenant swept and not looked up again loses its weight with its entry");
    }

    private sealed class WeightedProvider : ITenantLimitProvider
    {
        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
            => new(new TenantLimits { Rules = [RateLimitRule.PerHour(10)], FairShareWeight = 3 });
    }
}
