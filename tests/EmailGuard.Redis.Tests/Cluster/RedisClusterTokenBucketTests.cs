using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>Token buckets and reservations whose keys lie in several Redis Cluster slots.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterTokenBucketTests(RedisClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    [Fact]
    public async Task AcquireAsync_BucketAndWindowInTwoSlotsFromManyInstances_AdmitExactlyAndAllOrNothing()
    {
        // Arrange: a bucket of 100 that refills one permit a day, and a per-tenant window of 60 for each of two tenants.
        RateLimitRule bucket = RateLimitRule.TokenBucket(1, TimeSpan.FromDays(1), 100);
        RateLimitRule tenant = RateLimitRule.PerHour(60);
        RedisRateLimitStore[] stores = [.. Enumerable.Range(0, 4).Select(_ => RedisStoreTestBase.CreateStore(Cluster.CreateMultiplexer(), Prefix, Time))];
        long[] tenants = new long[2];
        int admitted = 0;

        // Act
        await RedisRateLimitStoreConcurrencyTests.RunCallersAsync(stores, async (store, caller) =>
        {
            int t = caller % 2;
            RateLimitRequest[] requests = [new("provider", bucket), new($"tenant:{t}", tenant)];
            if ((await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty)).IsAllowed)
            {
                Interlocked.Increment(ref admitted);
                Interlocked.Increment(ref tenants[t]);
            }
        });

        // Assert: 256 callers; the bucket admits 100 in all, each tenant at most 60, and every counter holds exactly
        // what was admitted (a denial in one slot gave back what the other had reserved).
        RateLimitEntry[] usage = new RateLimitEntry[3];
        await stores[0].PeekAsync(
            new[] { new RateLimitRequest("provider", bucket, 0), new RateLimitRequest("tenant:0", tenant, 0), new RateLimitRequest("tenant:1", tenant, 0) }, usage);
        admitted.Should().Be(100);
        usage[0].Count.Should().Be(100);
        usage[1].Count.Should().Be(tenants[0]);
        usage[2].Count.Should().Be(tenants[1]);
        tenants.Should().OnlyContain(n => n <= 60);
    }

    [Fact]
    public async Task ReserveAsync_KeysInSeveralSlots_ReservesNowOrDenies()
    {
        // Arrange
        RedisRateLimitStore store = RedisStoreTestBase.CreateStore(Admin, Prefix, Time);
        RateLimitRule bucket = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 2);
        RateLimitRequest[] requests = [new("provider", bucket), new("tenant:a", RateLimitRule.PerHour(100))];
        RateLimitRequest[] sameSlot = [new("provider", bucket), new("provider", RateLimitRule.PerHour(100))];

        // Act
        RateLimitDecision first = await store.ReserveAsync(requests, TimeSpan.FromMinutes(1), Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.ReserveAsync(requests, TimeSpan.FromMinutes(1), Memory<RateLimitEntry>.Empty);
        RateLimitDecision acrossSlots = await store.ReserveAsync(requests, TimeSpan.FromMinutes(1), Memory<RateLimitEntry>.Empty);
        RateLimitDecision inOneSlot = await store.ReserveAsync(sameSlot, TimeSpan.FromMinutes(1), Memory<RateLimitEntry>.Empty);

        // Assert: across slots the scripts cannot agree on a later time atomically, so it is an acquire now.
        first.Timestamp.Should().Be(Time.GetUtcNow());
        second.Timestamp.Should().Be(Time.GetUtcNow());
        acrossSlots.IsAllowed.Should().BeFalse();
        acrossSlots.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
        inOneSlot.IsAllowed.Should().BeTrue();
        inOneSlot.Timestamp.Should().Be(Time.GetUtcNow().AddMilliseconds(100));
    }
}
