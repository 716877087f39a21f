using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Counters in a reservation on the server's clock: the script's own <c>TIME</c> decides, counts the counters in the
/// segment of that time and tells the caller how far ahead the reserved time lies, so a refund finds the segment again.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisReservationCounterServerTimeTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    [Fact]
    public async Task Reserve_ServerTime_CounterCountsAtTheDecisionAndARefundFindsIt()
    {
        // Arrange: one permit per 2 s; the counter's segments are 1 s, so the reserved time lies in a later one.
        RedisRateLimitStore store = CreateStore(useServerTime: true);
        RateLimitRule bucket = RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(2), 1);
        RateLimitRule counter = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromMinutes(1), 60);
        RateLimitRequest[] requests = [new("provider", bucket), new("sends", counter, 4)];
        await store.AcquireAsync(new[] { new RateLimitRequest("provider", bucket) }, Memory<RateLimitEntry>.Empty);

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[2];
        RateLimitDecision reserved = await store.ReserveAsync(requests, TimeSpan.FromSeconds(5), entries);
        long counted = await CountAsync(store, counter);
        bool refunded = await store.RefundAsync(requests, reserved);
        long afterRefund = await CountAsync(store, counter);

        // Assert
        reserved.IsAllowed.Should().BeTrue();
        (reserved.Timestamp - reserved.DecidedAt).Should().BeGreaterThan(TimeSpan.FromSeconds(1)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(2));
        entries[1].Count.Should().Be(4);
        entries[1].ResetAt.Should().Be(DateTimeOffset.FromUnixTimeMilliseconds(((reserved.DecidedAt.ToUnixTimeMilliseconds() / 1000) + 61) * 1000));
        counted.Should().Be(4);
        refunded.Should().BeTrue();
        afterRefund.Should().Be(0);
    }

    private static async Task<long> CountAsync(RedisRateLimitStore store, RateLimitRule counter)
    {
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await store.PeekAsync(new[] { new RateLimitRequest("sends", counter, 0) }, entries);
        return entries[0].Count;
    }
}
