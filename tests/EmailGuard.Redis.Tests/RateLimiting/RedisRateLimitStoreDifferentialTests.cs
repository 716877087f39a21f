using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Time;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Feeds the in-memory store and the Redis store (client clock) the same seeded random calls at the same fake times,
/// and requires identical decisions and entries: the Lua scripts and the C# reference must never drift apart.
/// </summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreDifferentialTests(RedisServerFixture redis) : RedisStoreDifferentialTestsBase(redis.CreateMultiplexer);

/// <summary>The same differential run on a Redis Cluster, where multi-key calls span slots.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreDifferentialTests(RedisClusterFixture cluster) : RedisStoreDifferentialTestsBase(cluster.CreateMultiplexer);

/// <summary>The same differential run with every acquire sent through the batch script, which must decide as the single scripts do.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreBatchedDifferentialTests(RedisServerFixture redis) : RedisStoreDifferentialTestsBase(redis.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}

/// <summary>The batched differential run on a Redis Cluster: one batch per hash slot.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreBatchedDifferentialTests(RedisClusterFixture cluster) : RedisStoreDifferentialTestsBase(cluster.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}

/// <summary>
/// The differential run on a Redis Cluster with acquires across slots decided node by node from the first call (not
/// only once the store has looked at the servers): one node script per master, denials given back master by master.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreNodeScriptDifferentialTests(RedisClusterFixture cluster) : RedisStoreDifferentialTestsBase(cluster.CreateMultiplexer)
{
    protected override bool? NodeScripts => true;
}

/// <summary>
/// Feeds the in-memory store and the Redis store (client clock) the same seeded random calls at the same fake times,
/// and requires identical decisions and entries; the Redis store runs twice, with its over-limit cache (which must
/// answer many of the denials locally) and without it.
/// </summary>
public abstract class RedisStoreDifferentialTestsBase(Func<ConnectionMultiplexer> connect) : RedisStoreTestBase(connect)
{
    private static readonly RateLimitRule[] s_rules =
    [
        RateLimitRule.FixedWindow(7, TimeSpan.FromSeconds(10)),
        RateLimitRule.SlidingWindow(9, TimeSpan.FromSeconds(10), segments: 5),
        RateLimitRule.FixedWindow(4, TimeSpan.FromSeconds(1)),
        RateLimitRule.SlidingWindow(6, TimeSpan.FromSeconds(3), segments: 3),
        RateLimitRule.SlidingWindow(5, TimeSpan.FromMilliseconds(60), segments: 6),
        RateLimitRule.SlidingWindow(12, TimeSpan.FromSeconds(2), segments: 1),

        // The same counters under a raised and a lowered limit (a tenant override, a flagged user): a counter cached
        // over 7 must not deny an acquire allowed 10, and must deny one allowed 2.
        RateLimitRule.FixedWindow(7, TimeSpan.FromSeconds(10)).WithLimit(10),
        RateLimitRule.FixedWindow(7, TimeSpan.FromSeconds(10)).WithLimit(2),
        RateLimitRule.FixedWindow(4, TimeSpan.FromSeconds(1)).WithLimit(6),
        RateLimitRule.TokenBucket(5, TimeSpan.FromSeconds(1), 3),
        RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14),
        RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14).WithLimit(4),

        // Counters, which take part in any reservation at its decision's time, wherever the reserved time lies.
        RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromSeconds(3), segments: 3),
        RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromSeconds(1)),
    ];

    private static readonly string[] s_keys = ["k0", "k1", "k2", "k{x}3"];

    // A flood: fixed windows only, cost 1, short steps, so callers sit at their limits and retry, and the over-limit
    // cache answers most denials, while refunds, resets and raised limits keep invalidating it.
    private static readonly RateLimitRule[] s_floodRules =
    [
        RateLimitRule.FixedWindow(3, TimeSpan.FromSeconds(10)),
        RateLimitRule.FixedWindow(3, TimeSpan.FromSeconds(10)).WithLimit(5),
        RateLimitRule.FixedWindow(2, TimeSpan.FromSeconds(2)),
        RateLimitRule.FixedWindow(2, TimeSpan.FromSeconds(2)).WithLimit(1),
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task SameCallsAtSameTimes_BothStores_DecideIdentically(int seed)
    {
        await RunAsync(seed, s_rules, maxCost: 6, maxStepMs: 4000, maxRequests: 4);

    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Flood_WithAndWithoutOverLimitCache_DecideIdentically(int seed)
    {
        RedisRateLimitStore redis = await RunAsync(seed, s_floodRules, maxCost: 2, maxStepMs: 300, maxRequests: 2);

        redis.OverLimitCache!.HitCount.Should().BeGreaterThan(10, "the flood must exercise local denials between refunds, resets and admissions under raised limits");
    }

    private async Task<RedisRateLimitStore> RunAsync(int seed, RateLimitRule[] rules, int maxCost, int maxStepMs, int maxRequests)
    {
        Random random = new(seed);
        InMemoryRateLimitStore memory = new(new InMemoryRateLimitStoreOptions(), Time);
        RedisRateLimitStore redis = CreateStore();
        RedisRateLimitStore uncached = CreateStore(Admin, Prefix + "uncached:", Time, overLimitCacheMaxAge: TimeSpan.Zero, batchEveryAcquire: BatchEveryAcquire, nodeScripts: NodeScripts);
        uncached.OverLimitCache.Should().BeNull();
        List<(RateLimitRequest[] Requests, RateLimitDecision Memory, RateLimitDecision Redis, RateLimitDecision Uncached)> admitted = [];
        int denials = 0;
        RateLimitRequest[]? lastDenied = null;
        int refunds = 0;
        int reservations = 0;
        RealTimePacer pacer = new(Time);

        for (int step = 0; step < 1500; step++)
        {
            AdvanceTime(random, rules, maxStepMs);
            pacer.KeepUp();
            int op = random.Next(100);
            if (op < 8)
            {
                // A reservation, on one partition so that it is one script on a cluster too.
                string key = s_keys[random.Next(s_keys.Length)];
                RateLimitRequest[] requests = [.. RandomRequests(random, rules, minCost: 1, maxCost, maxRequests).Select(r => r with { Key = key })];
                TimeSpan maxWait = TimeSpan.FromMilliseconds(random.Next(0, 1500));
                RateLimitEntry[] expectedEntries = new RateLimitEntry[requests.Length];
                RateLimitEntry[] actualEntries = new RateLimitEntry[requests.Length];
                RateLimitEntry[] uncachedEntries = new RateLimitEntry[requests.Length];

                RateLimitDecision expected = await memory.ReserveAsync(requests, maxWait, expectedEntries);
                RateLimitDecision actual = await redis.ReserveAsync(requests, maxWait, actualEntries);
                RateLimitDecision withoutCache = await uncached.ReserveAsync(requests, maxWait, uncachedEntries);

                actual.Should().Be(expected, "reservation at step {0} ({1})", step, Describe(requests));
                actual.DecidedAt.Should().Be(expected.DecidedAt, "the decision time of the reservation at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the reservation at step {0} ({1})", step, Describe(requests));
                withoutCache.Should().Be(expected, "uncached reservation at step {0} ({1})", step, Describe(requests));
                uncachedEntries.Should().Equal(expectedEntries, "entries of the uncached reservation at step {0} ({1})", step, Describe(requests));
                if (expected.IsAllowed)
                {
                    reservations++;
                    admitted.Add((requests, expected, actual, withoutCache));
                }
            }
            else if (op < 62)
            {
                // A denied caller often retries at once, as a flood does: that is what the over-limit cache answers.
                RateLimitRequest[] requests = lastDenied is not null && random.Next(2) == 0 ? lastDenied : RandomRequests(random, rules, minCost: 1, maxCost, maxRequests);
                bool wantEntries = op < 55;
                RateLimitEntry[] expectedEntries = new RateLimitEntry[wantEntries ? requests.Length : 0];
                RateLimitEntry[] actualEntries = new RateLimitEntry[wantEntries ? requests.Length : 0];

                RateLimitEntry[] uncachedEntries = new RateLimitEntry[wantEntries ? requests.Length : 0];

                RateLimitDecision expected = await memory.AcquireAsync(requests, expectedEntries);
                RateLimitDecision actual = await redis.AcquireAsync(requests, actualEntries);
                RateLimitDecision withoutCache = await uncached.AcquireAsync(requests, uncachedEntries);

                actual.Should().Be(expected, "acquire at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the acquire at step {0} ({1})", step, Describe(requests));
                withoutCache.Should().Be(expected, "uncached acquire at step {0} ({1})", step, Describe(requests));
                uncachedEntries.Should().Equal(expectedEntries, "entries of the uncached acquire at step {0} ({1})", step, Describe(requests));
                if (expected.IsAllowed)
                {
                    admitted.Add((requests, expected, actual, withoutCache));
                }
                else
                {
                    denials++;
                    lastDenied = requests;
                }
            }
            else if (op < 82)
            {
                RateLimitRequest[] requests = RandomRequests(random, rules, minCost: 0, maxCost, maxRequests);
                RateLimitEntry[] expectedEntries = new RateLimitEntry[requests.Length];
                RateLimitEntry[] actualEntries = new RateLimitEntry[requests.Length];

                RateLimitDecision expected = await memory.PeekAsync(requests, expectedEntries);
                RateLimitDecision actual = await redis.PeekAsync(requests, actualEntries);

                actual.Should().Be(expected, "peek at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the peek at step {0} ({1})", step, Describe(requests));
            }
            else if (op < 97 && admitted.Count > 0)
            {
                (RateLimitRequest[] requests, RateLimitDecision inMemory, RateLimitDecision inRedis, RateLimitDecision inUncached) = admitted[random.Next(Math.Max(0, admitted.Count - 10), admitted.Count)];
                // Both refund a decision at most once; whether a repeat says so after the windows passed depends on
                // how long each remembers it (Redis TTLs run on the real clock, this test's on a fake one), and a
                // repeat then gives nothing back in either. The decisions that follow are what must agree.
                await memory.RefundAsync(requests, inMemory);
                await redis.RefundAsync(requests, inRedis);
                await uncached.RefundAsync(requests, inUncached);
                refunds++;
            }
            else
            {
                string key = s_keys[random.Next(s_keys.Length)];
                RateLimitRule rule = rules[random.Next(rules.Length)];
                await memory.ResetAsync(key, rule);
                await redis.ResetAsync(key, rule);
                await uncached.ResetAsync(key, rule);

                // Redis dates a reset to the millisecond and drops refunds of acquires made in that millisecond, before
                // or after it (it cannot tell which); the in-memory store tells them apart. Keep the two comparable.
                Time.Advance(TimeSpan.FromMilliseconds(1));
            }
        }

        admitted.Count.Should().BeGreaterThan(100, "the sequence must exercise admissions");
        denials.Should().BeGreaterThan(100, "the sequence must exercise denials");
        refunds.Should().BeGreaterThan(50, "the sequence must exercise refunds");
        reservations.Should().BeGreaterThan(20, "the sequence must exercise reservations");
        if (NodeScripts == true)
        {
            uncached.NodeBatcher!.MembersBatched.Should().BeGreaterThan(100, "acquires across slots must have been decided node by node");
        }

        return redis;
    }

    private void AdvanceTime(Random random, RateLimitRule[] rules, int maxStepMs)
    {
        long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        switch (random.Next(6))
        {
            case 0:
                break;
            case 1:
                Time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 40)));
                break;
            case 2:
                Time.Advance(TimeSpan.FromMilliseconds(random.Next(1, Math.Min(700, maxStepMs))));
                break;
            case 3:
                Time.Advance(TimeSpan.FromMilliseconds(random.Next(Math.Min(700, maxStepMs - 1), maxStepMs)));
                break;
            default:
                // Land exactly on, or one millisecond before, a window or segment boundary of some rule.
                RateLimitRule rule = rules[random.Next(rules.Length)];
                long unit = random.Next(2) == 0 ? rule.WindowMilliseconds : rule.SegmentMilliseconds;
                long boundary = ((now / unit) + 1) * unit - random.Next(2);
                if (boundary > now)
                {
                    Time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(boundary));
                }

                break;
        }
    }

    private static RateLimitRequest[] RandomRequests(Random random, RateLimitRule[] rules, int minCost, int maxCost, int maxRequests)
    {
        RateLimitRequest[] requests = new RateLimitRequest[random.Next(1, maxRequests + 1)];
        for (int i = 0; i < requests.Length; i++)
        {
            // Repeat the previous counter now and then, so pending costs within one call are exercised.
            requests[i] = i > 0 && random.Next(4) == 0
                ? requests[i - 1] with { Cost = random.Next(minCost, maxCost) }
                : new RateLimitRequest(s_keys[random.Next(s_keys.Length)], rules[random.Next(rules.Length)], random.Next(minCost, maxCost));
        }

        return requests;
    }

    private static string Describe(RateLimitRequest[] requests)
        => string.Join(", ", requests.Select(r => $"{r.Key}/{r.Rule.ShapeId}/limit {r.Rule.Limit}/cost {r.Cost}"));
}
