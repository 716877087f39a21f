namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>The cache of counter names: the names it gives are the ones it would build, and it stays bounded.</summary>
public class RedisCounterKeyCacheTests
{
    [Fact]
    public void Get_GivesTheBuiltName_AgainAndAfterTheWindowChanges()
    {
        RedisCounterKeyCache cache = new("app:");
        RateLimitRule rule = RateLimitRule.PerHour(5);

        cache.Get("user:ann", rule.ShapeId, 7).Should().Be(RedisCounterKey.Create("app:", "user:ann", rule.ShapeId, 7));
        cache.Get("user:ann", rule.ShapeId, 7).Should().Be(RedisCounterKey.Create("app:", "user:ann", rule.ShapeId, 7));
        cache.Get("user:ann", rule.ShapeId, 8).Should().Be(RedisCounterKey.Create("app:", "user:ann", rule.ShapeId, 8), "a new window has a new name");
        cache.Get("user:ann", rule.ShapeId, 7).Should().Be(RedisCounterKey.Create("app:", "user:ann", rule.ShapeId, 7), "a late caller of the old window still gets its own name");
        cache.Get("user:ann", rule.ShapeId, RedisCounterKey.NoWindow).Should().Be(RedisCounterKey.Create("app:", "user:ann", rule.ShapeId, RedisCounterKey.NoWindow));
        string daily = RateLimitRule.PerDay(5).ShapeId;
        cache.Get("user:ann", daily, 7).Should().Be(RedisCounterKey.Create("app:", "user:ann", daily, 7), "another rule shape is another counter");
        cache.Get("user:bob", rule.ShapeId, 7).Should().Be(RedisCounterKey.Create("app:", "user:bob", rule.ShapeId, 7));
    }

    [Fact]
    public async Task Get_AFloodOfDistinctKeysFromManyThreads_NeverHoldsMoreThanItsCapacity_AndEveryNameIsRight()
    {
        // An attacker who sends to ever new recipients must not grow the cache without bound: at most its capacity,
        // plus one name per caller racing with the clear.
        RedisCounterKeyCache cache = new("p:");
        string shape = RateLimitRule.PerHour(5).ShapeId;
        int perThread = RedisCounterKeyCache.Capacity;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < perThread; i++)
            {
                string key = $"rcpt:{t}-{i}@example.com";
                cache.Get(key, shape, RedisCounterKey.NoWindow).Should().Be(RedisCounterKey.Create("p:", key, shape, RedisCounterKey.NoWindow));
                cache.Count.Should().BeLessThanOrEqualTo(RedisCounterKeyCache.Capacity + 4);
            }
        })));

        cache.Count.Should().BeLessThanOrEqualTo(RedisCounterKeyCache.Capacity + 4);
    }
}
