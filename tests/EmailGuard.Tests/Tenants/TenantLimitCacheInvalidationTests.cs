using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Tenants;

/// <summary>
/// An invalidation while a lookup of the tenant is running: that lookup may have read the old plan, so neither its
/// rules nor its fair-share weight may stand once a newer lookup answered.
/// </summary>
public sealed class TenantLimitCacheInvalidationTests
{
    [Fact]
    public async Task Invalidate_WhileALookupRuns_TheNextCheckLooksUpAgain_AndTheOldLookupLandingLastKeepsNeitherRulesNorWeight()
    {
        // Arrange: the first lookup (the old plan, 100 an hour, weight 1) is still running when the plan changes.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        HeldProvider provider = new();
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time);
        ValueTask<RateLimitRule[]> before = cache.GetAsync("acme", [], default);

        // Act: invalidated; the next check starts a lookup of its own, which answers first (the new plan).
        cache.Invalidate("acme");
        ValueTask<RateLimitRule[]> after = cache.GetAsync("acme", [], default);
        provider.Answer(1, RateLimitRule.PerHour(3), weight: 5);
        RateLimitRule[] afterRules = await after;
        provider.Answer(0, RateLimitRule.PerHour(100), weight: 1);
        await before;
        RateLimitRule[] later = await cache.GetAsync("acme", [], default);

        // Assert
        provider.Calls.Should().Be(2, "the check after the invalidation did not share the lookup that began before it");
        afterRules.Should().Equal(RateLimitRule.PerHour(3));
        later.Should().Equal([RateLimitRule.PerHour(3)], "the old lookup landed last, but is no longer the cached one");
        cache.TryGetWeight("acme", out double? weight).Should().BeTrue();
        weight.Should().Be(5, "the old plan's weight must not overwrite the new one");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Invalidate_WhileAWholeReloadMarksEveryAnswerExpired_TheNextCheckWaitsForTheNewPlan(bool everyTenant)
    {
        // Arrange: acme's plan, 100 an hour, is cached; the operator cuts it to 1 an hour and invalidates it. A whole reload
        // of the state (at every change on a store that reports none) marks every answer expired between the
        // invalidation's read of the entry and its write: the write found another entry, one attempt gave up, and the
        // next check served the old plan while the provider was asked.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        HeldProvider provider = new();
        RateLimitRule[] defaults = [RateLimitRule.PerHour(3)];
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time, timeout: TimeSpan.FromSeconds(1));
        ValueTask<RateLimitRule[]> first = cache.GetAsync("acme", defaults, default);
        provider.Answer(0, RateLimitRule.PerHour(100), weight: 1);
        (await first).Should().Equal(RateLimitRule.PerHour(100));
        int reloads = 0;
        cache.InvalidationRead = _ =>
        {
            if (reloads++ == 0)
            {
                cache.ExpireAll();
            }
        };

        // Act
        if (everyTenant)
        {
            cache.InvalidateAll();
        }
        else
        {
            cache.Invalidate("acme");
        }

        ValueTask<RateLimitRule[]> next = cache.GetAsync("acme", defaults, default);
        bool servedAtOnce = next.IsCompleted;
        provider.Answer(1, RateLimitRule.PerHour(1), weight: 1);
        RateLimitRule[] rules = await next;

        // Assert
        reloads.Should().BeGreaterThan(0, "the reload ran inside the invalidation");
        servedAtOnce.Should().BeFalse("an invalidated answer serves no check while the provider is asked");
        rules.Should().Equal([RateLimitRule.PerHour(1)], "the check after the invalidation gets the new plan, not the old one");
    }

    /// <summary>Each lookup waits until the test answers it by its order.</summary>
    private sealed class HeldProvider : ITenantLimitProvider
    {
        private readonly List<TaskCompletionSource<TenantLimits?>> _lookups = [];

        public int Calls
        {
            get
            {
                lock (_lookups)
                {
                    return _lookups.Count;
                }
            }
        }

        public void Answer(int lookup, RateLimitRule rule, double weight)
        {
            lock (_lookups)
            {
                _lookups[lookup].SetResult(new TenantLimits { Rules = [rule], FairShareWeight = weight });
            }
        }

        public ValueTask<TenantLimits?> GetLimitsAsync(string tenantId, CancellationToken cancellationToken)
        {
            TaskCompletionSource<TenantLimits?> answer = new();
            lock (_lookups)
            {
                _lookups.Add(answer);
            }

            return new(answer.Task);
        }
    }
}
