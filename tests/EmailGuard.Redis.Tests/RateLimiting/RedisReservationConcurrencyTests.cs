using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Reservations from 8 app instances (one multiplexer each) × 64 callers on one bucket and one window: every
/// reservation gets its own slot, the reserved times never let the rules be exceeded, and the counts are exact.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisReservationConcurrencyTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    private const int Instances = 8;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReserveAsync_ManyInstances_ReservedTimesKeepTheRateAndTheCountsAreExact(bool useServerTime)
    {
        // Arrange: 100 per second, burst 10, so 512 reservations need ~5 s of slots; the hourly window allows 400. A
        // counter in 1-s segments (the send guard's send counts) rides along: the slots lie up to 4 segments ahead.
        RateLimitRule bucket = RateLimitRule.TokenBucket(100, TimeSpan.FromSeconds(1), 10);
        RateLimitRule hourly = RateLimitRule.FixedWindow(400, TimeSpan.FromHours(1));
        RateLimitRule counter = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromMinutes(1), 60);
        RedisRateLimitStore[] stores = new RedisRateLimitStore[Instances];
        for (int i = 0; i < Instances; i++)
        {
            stores[i] = CreateStore(Redis.CreateMultiplexer(), Prefix, Time, useServerTime);
        }

        RateLimitRequest[] requests = [new("provider", bucket), new("account", hourly), new("account", counter)];
        if (useServerTime)
        {
            // A reservation whose slot falls past its fixed window's end is denied (docs/pacing.md), so on the server's
            // real clock a run that starts in the last seconds of an hour admits fewer than 400 (CI saw 277). The slots
            // lie up to ~5 s ahead and a loaded machine stretches the run: start at least 30 s before the hour ends.
            await WindowEnd.ClearOfTheHourAsync(Admin.GetServers()[0]);
        }

        System.Collections.Concurrent.ConcurrentBag<long> times = [];
        int denied = 0;

        // Act
        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, _) =>
        {
            RateLimitDecision decision = await store.ReserveAsync(requests, TimeSpan.FromMinutes(1), Memory<RateLimitEntry>.Empty);
            if (decision.IsAllowed)
            {
                times.Add(decision.Timestamp.ToUnixTimeMilliseconds());
            }
            else
            {
                Interlocked.Increment(ref denied);
            }
        });
        RateLimitEntry[] usage = new RateLimitEntry[2];
        await stores[0].PeekAsync(new[] { new RateLimitRequest("account", hourly, 0), new RateLimitRequest("account", counter, 0) }, usage);

        // Assert: the window admits exactly its limit; the sends, taken at their reserved times, keep the bucket's
        // guarantee over every interval (burst + rate × t; 10 ms per permit). The server's clock moves on during the
        // run, so only the guarantee, not the exact times, is fixed there.
        times.Should().HaveCount(400);
        denied.Should().Be((Instances * 64) - 400);
        usage[0].Count.Should().Be(400);
        usage[1].Count.Should().Be(400, "the counter counted every admitted reservation, however far ahead, and nothing else");
        long[] sorted = [.. times.Order()];
        string? violation = null;
        for (int left = 0; left < sorted.Length && violation is null; left++)
        {
            for (int right = left; right < sorted.Length; right++)
            {
                long permits = right - left + 1;
                if (permits * 10 > 100 + (sorted[right] - sorted[left]))
                {
                    violation = $"{permits} sends within {sorted[right] - sorted[left]} ms";
                    break;
                }
            }
        }

        violation.Should().BeNull();
        if (!useServerTime)
        {
            // On the fake client clock the slots are exact: 10 now, then one every 10 ms.
            long start = Time.GetUtcNow().ToUnixTimeMilliseconds();
            sorted.Should().Equal(Enumerable.Range(0, 400).Select(i => start + (Math.Max(0, i - 9) * 10L)));
        }
    }
}
