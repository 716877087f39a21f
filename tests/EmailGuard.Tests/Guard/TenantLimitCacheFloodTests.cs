using EmailGuard.Testing.Guard;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Guard;

/// <summary>
/// An attacker who can make up tenant ids (a trial signup per request) floods the tenant limit cache. The cache used to
/// empty itself when full, so every paying tenant's next check waited on the database and, when it was slow, ran on
/// the default limits. Now the tenants in use keep their answers.
/// </summary>
public sealed class TenantLimitCacheFloodTests
{
    private const int Capacity = 64;
    private static readonly RateLimitRule[] s_defaults = [RateLimitRule.PerHour(3)];
    private static readonly RateLimitRule s_paid = RateLimitRule.PerHour(10_000);

    [Fact]
    public async Task FloodOfMadeUpTenants_WhileAnswersAreFresh_KeepsTheTenantsInUse_AndCachesNoneOfTheFlood()
    {
        CountingTenantLimitProvider provider = new(id => id == "acme" ? new TenantLimits { Rules = [s_paid] } : null);
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero));
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time, maxTenants: Capacity);
        (await cache.GetAsync("acme", s_defaults, default)).Should().Equal(s_paid);

        for (int i = 0; i < Capacity * 10; i++)
        {
            (await cache.GetAsync($"trial-{i}", s_defaults, default)).Should().Equal(s_defaults);
        }

        (await cache.GetAsync("acme", s_defaults, default)).Should().Equal(s_paid);
        provider.Calls("acme").Should().Be(1, "the paying tenant's answer survived the flood; before, the full cache emptied itself");
        cache.TryGetWeight("acme", out _).Should().BeTrue();
        provider.Calls("trial-639").Should().Be(1);
        (await cache.GetAsync("trial-639", s_defaults, default)).Should().Equal(s_defaults);
        provider.Calls("trial-639").Should().Be(2, "a tenant past the capacity is looked up uncached while every answer is fresh");
    }

    [Fact]
    public async Task FullCache_AfterALifetime_MakesRoomFromExpiredAnswers()
    {
        CountingTenantLimitProvider provider = new(_ => null);
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 3, 10, 0, 0, TimeSpan.Zero));
        TenantLimitCache cache = new(provider, TimeSpan.FromMinutes(1), time, maxTenants: Capacity);
        for (int i = 0; i < Capacity; i++)
        {
            await cache.GetAsync($"old-{i}", s_defaults, default);
        }

        time.Advance(TimeSpan.FromMinutes(1));
        await cache.GetAsync("new", s_defaults, default);
        await cache.GetAsync("new", s_defaults, default);

        provider.Calls("new").Should().Be(1, "the expired answers made room, so the new tenant's answer is cached");
    }
}
