using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// On server time, a denial answered from the cache is dated as Redis would date it: by the server's clock, which the
/// entry carries (its window's end, and the time left measured locally), not by the app's clock.
/// </summary>
public partial class RedisOverLimitCacheTests
{
    [Fact]
    public async Task ServerTime_MultiCounterDenialFromTheCache_AppClockSkewed_IsDatedOnTheServersClock_AsRedisDatesIt()
    {
        // Arrange: the app's clock 7 minutes behind the server's: less than half a daily window, so both place the
        // windows alike, and far more than a round trip.
        DateTimeOffset serverNow = new(await Admin.GetServers()[0].TimeAsync(), TimeSpan.Zero);
        FakeTimeProvider behind = new(serverNow - TimeSpan.FromMinutes(7));
        RedisRateLimitStore store = CreateStore(Admin, Prefix, behind, useServerTime: true);
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", behind, useServerTime: true, overLimitCacheMaxAge: TimeSpan.Zero);
        RateLimitRule daily = RateLimitRule.PerDay(1);
        RateLimitRequest[] both = [new("a", daily), new("b", daily)];
        (await store.AcquireAsync(both, new RateLimitEntry[2])).IsAllowed.Should().BeTrue("the admission fills both counters, as its entries say");
        (await uncached.AcquireAsync(both, new RateLimitEntry[2])).IsAllowed.Should().BeTrue();

        // Act
        RateLimitEntry[] cachedEntries = new RateLimitEntry[2];
        RateLimitEntry[] redisEntries = new RateLimitEntry[2];
        RateLimitDecision cached = await store.AcquireAsync(both, cachedEntries);
        RateLimitDecision fromRedis = await uncached.AcquireAsync(both, redisEntries);

        // Assert: the same denial, dated within the test's own round trips of Redis's date, not 7 minutes before it.
        store.OverLimitCache!.HitCount.Should().Be(1, "every counter was known over its limit");
        cached.Status.Should().Be(RateLimitStatus.LimitExceeded);
        fromRedis.Status.Should().Be(RateLimitStatus.LimitExceeded);
        fromRedis.Timestamp.Should().BeCloseTo(serverNow, TimeSpan.FromSeconds(5), "the script dates a denial by the server's TIME");
        cached.Timestamp.Should().BeCloseTo(fromRedis.Timestamp, TimeSpan.FromSeconds(5));
        cached.RetryAfter.Should().BeCloseTo(fromRedis.RetryAfter, TimeSpan.FromSeconds(5));
        for (int i = 0; i < 2; i++)
        {
            cachedEntries[i].ResetAt.Should().Be(redisEntries[i].ResetAt);
            (cachedEntries[i].ResetAt - cached.Timestamp).Should().BeCloseTo(redisEntries[i].ResetAt - fromRedis.Timestamp, TimeSpan.FromSeconds(5));
        }
    }
}
