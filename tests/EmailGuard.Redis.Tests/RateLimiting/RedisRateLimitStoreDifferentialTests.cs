using EmailGuard.Testing.Redis;
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

/// <summary>
/// Feeds the in-memory store and the Redis store (client clock) the same seeded random calls at the same fake times,
/// and requires identical decisions and entries.
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
        RateLimitRule.TokenBucket(5, TimeSpan.FromSeconds(1), 3),
        RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14),
        RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14).WithLimit(4),
    ];

    private static readonly string[] s_keys = ["k0", "k1", "k2", "k{x}3"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task SameCallsAtSameTimes_BothStores_DecideIdentically(int seed)
    {
        Random random = new(seed);
        InMemoryRateLimitStore memory = new(new InMemoryRateLimitStoreOptions(), Time);
        RedisRateLimitStore redis = CreateStore();
        List<(RateLimitRequest[] Requests, RateLimitDecision Memory, RateLimitDecision Redis)> admitted = [];
        int denials = 0;
        int refunds = 0;
        int reservations = 0;

        for (int step = 0; step < 1500; step++)
        {
            AdvanceTime(random);
            int op = random.Next(100);
            if (op < 8)
            {
                // A reservation, on one partition so that it is one script on a cluster too.
                string key = s_keys[random.Next(s_keys.Length)];
                RateLimitRequest[] requests = [.. RandomRequests(random, minCost: 1).Select(r => r with { Key = key })];
                TimeSpan maxWait = TimeSpan.FromMilliseconds(random.Next(0, 1500));
                RateLimitEntry[] expectedEntries = new RateLimitEntry[requests.Length];
                RateLimitEntry[] actualEntries = new RateLimitEntry[requests.Length];

                RateLimitDecision expected = await memory.ReserveAsync(requests, maxWait, expectedEntries);
                RateLimitDecision actual = await redis.ReserveAsync(requests, maxWait, actualEntries);

                actual.Should().Be(expected, "reservation at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the reservation at step {0} ({1})", step, Describe(requests));
                if (expected.IsAllowed)
                {
                    reservations++;
                    admitted.Add((requests, expected, actual));
                }
            }
            else if (op < 62)
            {
                RateLimitRequest[] requests = RandomRequests(random, minCost: 1);
                bool wantEntries = op < 55;
                RateLimitEntry[] expectedEntries = new RateLimitEntry[wantEntries ? requests.Length : 0];
                RateLimitEntry[] actualEntries = new RateLimitEntry[wantEntries ? requests.Length : 0];

                RateLimitDecision expected = await memory.AcquireAsync(requests, expectedEntries);
                RateLimitDecision actual = await redis.AcquireAsync(requests, actualEntries);

                actual.Should().Be(expected, "acquire at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the acquire at step {0} ({1})", step, Describe(requests));
                if (expected.IsAllowed)
                {
                    admitted.Add((requests, expected, actual));
                }
                else
                {
                    denials++;
                }
            }
            else if (op < 82)
            {
                RateLimitRequest[] requests = RandomRequests(random, minCost: 0);
                RateLimitEntry[] expectedEntries = new RateLimitEntry[requests.Length];
                RateLimitEntry[] actualEntries = new RateLimitEntry[requests.Length];

                RateLimitDecision expected = await memory.PeekAsync(requests, expectedEntries);
                RateLimitDecision actual = await redis.PeekAsync(requests, actualEntries);

                actual.Should().Be(expected, "peek at step {0} ({1})", step, Describe(requests));
                actualEntries.Should().Equal(expectedEntries, "entries of the peek at step {0} ({1})", step, Describe(requests));
            }
            else if (op < 97 && admitted.Count > 0)
            {
                (RateLimitRequest[] requests, RateLimitDecision inMemory, RateLimitDecision inRedis) = admitted[random.Next(Math.Max(0, admitted.Count - 10), admitted.Count)];
                // Both refund a decision at most once; whether a repeat says so after the windows passed depends on
                // how long each remembers it (Redis TTLs run on the real clock, this test's on a fake one), and a
                // repeat then gives nothing back in either. The decisions that follow are what must agree.
                await memory.RefundAsync(requests, inMemory);
                await redis.RefundAsync(requests, inRedis);
                refunds++;
            }
            else
            {
                string key = s_keys[random.Next(s_keys.Length)];
                RateLimitRule rule = s_rules[random.Next(s_rules.Length)];
                await memory.ResetAsync(key, rule);
                await redis.ResetAsync(key, rule);

                // Redis dates a reset to the millisecond and drops refunds of acquires made in that millisecond, before
                // or after it (it cannot tell which); the in-memory store tells them apart. Keep the two comparable.
                Time.Advance(TimeSpan.FromMilliseconds(1));
            }
        }

        admitted.Count.Should().BeGreaterThan(100, "the sequence must exercise admissions");
        denials.Should().BeGreaterThan(100, "the sequence must exercise denials");
        refunds.Should().BeGreaterThan(50, "the sequence must exercise refunds");
        reservations.Should().BeGreaterThan(20, "the sequence must exercise reservations");
    }

    private void AdvanceTime(Random random)
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
                Time.Advance(TimeSpan.FromMilliseconds(random.Next(1, 700)));
                break;
            case 3:
                Time.Advance(TimeSpan.FromMilliseconds(random.Next(700, 4000)));
                break;
            default:
                // Land exactly on, or one millisecond before, a window or segment boundary of some rule.
                RateLimitRule rule = s_rules[random.Next(s_rules.Length)];
                long unit = random.Next(2) == 0 ? rule.WindowMilliseconds : rule.SegmentMilliseconds;
                long boundary = ((now / unit) + 1) * unit - random.Next(2);
                if (boundary > now)
                {
                    Time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(boundary));
                }

                break;
        }
    }

    private static RateLimitRequest[] RandomRequests(Random random, int minCost)
    {
        RateLimitRequest[] requests = new RateLimitRequest[random.Next(1, 5)];
        for (int i = 0; i < requests.Length; i++)
        {
            // Repeat the previous counter now and then, so pending costs within one call are exercised.
            requests[i] = i > 0 && random.Next(4) == 0
                ? requests[i - 1] with { Cost = random.Next(minCost, 6) }
                : new RateLimitRequest(s_keys[random.Next(s_keys.Length)], s_rules[random.Next(s_rules.Length)], random.Next(minCost, 6));
        }

        return requests;
    }

    private static string Describe(RateLimitRequest[] requests)
        => string.Join(", ", requests.Select(r => $"{r.Key}/{r.Rule.ShapeId}/limit {r.Rule.Limit}/cost {r.Cost}"));
}
