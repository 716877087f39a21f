using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>What only Redis can show about token buckets: one key per bucket with a TTL, and clocks that disagree.</summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisTokenBucketTests(RedisServerFixture redis) : RedisStoreTestBase(redis)
{
    [Fact]
    public async Task AcquireAsync_TokenBucket_KeepsOneKeyWhoseTtlEndsAGraceAfterTheBucketIsFull()
    {
        // Arrange: 10 per second, burst 5: full again 500 ms after the burst is taken.
        RedisRateLimitStore store = CreateStore();
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 5);

        // Act
        for (int i = 0; i < 7; i++)
        {
            await store.AcquireAsync(new[] { new RateLimitRequest("bucket", rule) }, Memory<RateLimitEntry>.Empty);
        }

        // Assert
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(Admin, Prefix);
        keys.Should().ContainSingle();
        keys[0].Key.ToString().Should().Contain(":tw1000:bucket", "a bucket is named by its window, whatever its rate");
        ((string?)await Admin.GetDatabase().StringGetAsync(keys[0].Key)).Should().EndWith(":100000", "the TAT is kept with the bucket interval it was written under");
        keys[0].Ttl.Should().NotBeNull();
        keys[0].Ttl!.Value.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(TimeSpan.FromMilliseconds(500 + RedisRateLimitStore.ExpiryGraceMilliseconds));
    }

    [Fact]
    public async Task ReserveAsync_NextToAnAcquire_IsOneScriptCallAndOneRoundTrip()
    {
        // Arrange: every reservation waits (one permit per ms), alongside a daily window, as a queue worker's would.
        ConnectionMultiplexer instance = Redis.CreateMultiplexer();
        RedisRateLimitStore store = CreateStore(instance, Prefix, Time);
        RateLimitRequest[] reserve = [new("provider", RateLimitRule.TokenBucket(1_000, TimeSpan.FromSeconds(1), 1)), new("account", RateLimitRule.PerDay(1_000_000))];
        RateLimitRequest[] acquire = [new("tenant", RateLimitRule.PerDay(1_000_000)), new("account", RateLimitRule.PerDay(1_000_000))];
        await store.ReserveAsync(reserve, TimeSpan.FromHours(1), Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(acquire, Memory<RateLimitEntry>.Empty);

        // Act
        long before = instance.GetCounters().Interactive.OperationCount;
        for (int i = 0; i < 500; i++)
        {
            (await store.ReserveAsync(reserve, TimeSpan.FromHours(1), Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        }

        long reserveTrips = instance.GetCounters().Interactive.OperationCount - before;
        before = instance.GetCounters().Interactive.OperationCount;
        for (int i = 0; i < 500; i++)
        {
            (await store.AcquireAsync(acquire, Memory<RateLimitEntry>.Empty)).IsAllowed.Should().BeTrue();
        }

        long acquireTrips = instance.GetCounters().Interactive.OperationCount - before;

        // Assert
        reserveTrips.Should().Be(500);
        acquireTrips.Should().Be(500);
    }

    [Fact]
    public async Task AcquireAsync_TokenBucketOnServerTime_IgnoresClientClocksHoursApart()
    {
        // Arrange: two app instances whose clocks disagree by 6 hours; the bucket refills one permit a day.
        FakeTimeProvider behind = new(new DateTimeOffset(2026, 11, 23, 4, 0, 0, TimeSpan.Zero));
        FakeTimeProvider ahead = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        RedisRateLimitStore[] stores =
        [
            CreateStore(Admin, Prefix, behind, useServerTime: true),
            CreateStore(Admin, Prefix, ahead, useServerTime: true),
        ];
        RateLimitRule rule = RateLimitRule.TokenBucket(1, TimeSpan.FromDays(1), 10);
        int admitted = 0;

        // Act
        for (int i = 0; i < 40; i++)
        {
            RateLimitDecision decision = await stores[i % 2].AcquireAsync(new[] { new RateLimitRequest("skew", rule) }, Memory<RateLimitEntry>.Empty);
            admitted += decision.IsAllowed ? 1 : 0;
            ahead.Advance(TimeSpan.FromHours(1));
        }

        // Assert
        admitted.Should().Be(10);
    }

    [Fact]
    public async Task AcquireAsync_TokenBucketKeyHoldingText_FailsBeforeWritingAnything()
    {
        // Arrange: an attacker with write access to Redis, or another app, put text where the bucket lives.
        RedisRateLimitStore store = CreateStore();
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 5);
        RateLimitRule hourly = RateLimitRule.PerHour(10);
        await store.AcquireAsync(new[] { new RateLimitRequest("bucket", rule) }, Memory<RateLimitEntry>.Empty);
        RedisKey bucketKey = (await RedisServerFixture.ScanWithTtlAsync(Admin, Prefix))[0].Key;
        await Admin.GetDatabase().StringSetAsync(bucketKey, "full", TimeSpan.FromMinutes(1));

        // Act
        Func<Task> act = async () => await store.AcquireAsync(
            new[] { new RateLimitRequest("other", hourly), new RateLimitRequest("bucket", rule) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<RedisServerException>();
        RateLimitEntry[] usage = new RateLimitEntry[1];
        await store.PeekAsync(new[] { new RateLimitRequest("other", hourly, 0) }, usage);
        usage[0].Count.Should().Be(0, "a script that fails writes nothing");
        await Admin.GetDatabase().KeyDeleteAsync(bucketKey);
    }
}
