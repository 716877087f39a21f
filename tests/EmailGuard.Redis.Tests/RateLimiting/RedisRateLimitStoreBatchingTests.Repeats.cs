using EmailGuard.Redis.Tests.Testing;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// Batch members that repeat an earlier member's arguments: a multi-key member sends a repeat code instead of the
/// arguments of the last multi-key member when they are the same, whatever single-key members came between, and the
/// batch script decides it with those arguments.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public Task AcquireAsync_MembersRepeatingArgumentsOfOtherRuleSetsAndKinds_DecideAsTheSameCallsInMemory(int seed)
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // Three rule sets, two of them of as many keys (a member that wrongly repeats the other's arguments is
        // decided by the wrong limits and costs), chosen in runs and alternately, with single-key acquires between
        // (a multi-key repeat must skip them, a single-key repeat must not take a multi-key member's arguments).
        // Keys are few, so limits are reached and both answers are exercised.
        (_, RedisRateLimitStore store) = await OwnStoreAsync(scenario, useServerTime: false, TimeSpan.FromSeconds(30));
        InMemoryRateLimitStore memory = new(new InMemoryRateLimitStoreOptions(), Time);
        RateLimitRule fixedSix = RateLimitRule.FixedWindow(6, TimeSpan.FromDays(300));
        RateLimitRule sliding = RateLimitRule.SlidingWindow(8, TimeSpan.FromHours(1), segments: 4);
        RateLimitRule bucket = RateLimitRule.TokenBucket(5, TimeSpan.FromMinutes(1), 2);
        (RateLimitRule Rule, int Cost)[][] ruleSets =
        [
            [(fixedSix, 1), (fixedSix.WithLimit(3), 2), (sliding, 1)],
            [(fixedSix.WithLimit(9), 1), (fixedSix, 1), (bucket, 2)],
            [(sliding, 2), (fixedSix, 1)],
        ];
        string[] keys = ["k0", "k1", "k2", "k3", "k{x}4"];
        Random random = new(seed);
        RateLimitRequest[][] calls = new RateLimitRequest[Callers][];
        int set = 0;
        for (int i = 0; i < Callers; i++)
        {
            // Single-key acquires each on a key of their own, so the hot-key coalescer keeps arrival order; two
            // rules, so some repeat the member before and some do not.
            if (random.Next(4) == 0)
            {
                calls[i] = [new($"single-{i}", random.Next(2) == 0 ? fixedSix : fixedSix.WithLimit(3))];
                continue;
            }

            if (random.Next(3) == 0)
            {
                set = random.Next(ruleSets.Length);
            }

            calls[i] = [.. ruleSets[set].Select(r => new RateLimitRequest(keys[random.Next(keys.Length)], r.Rule, r.Cost))];
        }

        long batches = store.Batcher!.BatchesSent;
        long repeated = store.Batcher.MembersRepeated;
        (RateLimitDecision Decision, RateLimitEntry[] Entries)[] outcomes = await AcquireWhilePausedAsync(scenario, store, i => calls[i]);
        scenario.AssertPremiseOrRunAgain();

        (store.Batcher.BatchesSent - batches).Should().BeGreaterThan(0);
        (store.Batcher.MembersRepeated - repeated).Should().BeGreaterThan(Callers / 4, "runs of one rule set repeat the last multi-key member's arguments");
        int admitted = 0;
        for (int i = 0; i < Callers; i++)
        {
            RateLimitEntry[] expectedEntries = new RateLimitEntry[calls[i].Length];
            RateLimitDecision expected = await memory.AcquireAsync(calls[i], expectedEntries);
            outcomes[i].Decision.Should().Be(expected, "call {0} in arrival order", i);
            outcomes[i].Entries.Should().Equal(expectedEntries, "entries of call {0}", i);
            admitted += expected.IsAllowed ? 1 : 0;
        }

        admitted.Should().BeGreaterThan(5).And.BeLessThan(Callers - 5, "the calls must exercise both answers");
    });
}
