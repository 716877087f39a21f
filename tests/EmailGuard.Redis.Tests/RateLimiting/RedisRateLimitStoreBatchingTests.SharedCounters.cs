using EmailGuard.Redis.Tests.Testing;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// A fixed-window counter that many members of one batch take from is read from Redis once per batch: the first member
/// to take from it writes at once, the later ones' takes wait in the batch's record of it and are written at the end.
/// Every member must still be decided exactly as alone, in arrival order, all or nothing, and the counter must end with
/// exactly what the admitted members took and with its window's expiry.
/// </summary>
public partial class RedisRateLimitStoreBatchingTests
{
    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    public Task AcquireAsync_ManyMembersOnOneCounterCrossItsLimitMidBatch_ExactlyTheFirstThatFitAreAdmitted_AllOrNothing(bool useServerTime, int seed)
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // Every caller takes 1 to 3 from the shared counter (limit 100) and 1 from its own (limit 1), whose counter is
        // full already for every sixth caller: those are denied on their own counter and take nothing from the shared
        // one. Callers with a cost of 3 are denied on the shared counter near its limit while later ones of cost 1
        // still fit. The in-memory store, fed the same calls in the same order, gives the counts and decisions.
        (_, RedisRateLimitStore store) = await OwnStoreAsync(scenario, useServerTime, TimeSpan.FromSeconds(30));
        InMemoryRateLimitStore memory = new(new InMemoryRateLimitStoreOptions(), Time);
        RateLimitRule shared = RateLimitRule.FixedWindow(100, TimeSpan.FromDays(300));
        RateLimitRule own = RateLimitRule.FixedWindow(1, TimeSpan.FromDays(300));
        Random random = new(seed);
        int[] costs = [.. Enumerable.Range(0, Callers).Select(_ => random.Next(1, 4))];
        RateLimitRequest[] Request(int i) => [new("shared", shared, costs[i]), new($"own-{i}", own)];
        for (int i = 0; i < Callers; i += 6)
        {
            RateLimitRequest[] fill = [new($"own-{i}", own)];
            (await store.AcquireAsync(fill, default)).IsAllowed.Should().BeTrue();
            (await memory.AcquireAsync(fill, default)).IsAllowed.Should().BeTrue();
        }

        long batches = store.Batcher!.BatchesSent;
        (RateLimitDecision Decision, RateLimitEntry[] Entries)[] outcomes = await AcquireWhilePausedAsync(scenario, store, Request);
        scenario.AssertPremiseOrRunAgain();

        (store.Batcher.BatchesSent - batches).Should().BeGreaterThan(0);
        long taken = 0;
        int deniedOnShared = 0;
        for (int i = 0; i < Callers; i++)
        {
            RateLimitEntry[] expectedEntries = new RateLimitEntry[2];
            RateLimitDecision expected = await memory.AcquireAsync(Request(i), expectedEntries);
            outcomes[i].Decision.Status.Should().Be(expected.Status, "call {0} in arrival order", i);
            outcomes[i].Decision.DeniedIndex.Should().Be(expected.DeniedIndex, "call {0}", i);
            outcomes[i].Entries.Select(e => (e.IsAllowed, e.Count)).Should().Equal(expectedEntries.Select(e => (e.IsAllowed, e.Count)), "entries of call {0}", i);
            if (!useServerTime)
            {
                // On the client's clock the windows are the in-memory store's too, to the millisecond.
                outcomes[i].Decision.Should().Be(expected, "call {0}", i);
                outcomes[i].Entries.Should().Equal(expectedEntries, "entries of call {0}", i);
            }

            taken += expected.IsAllowed ? costs[i] : 0;
            deniedOnShared += expected.DeniedIndex == 0 ? 1 : 0;
        }

        taken.Should().BeInRange(98, 100, "the calls must fill the shared counter");
        deniedOnShared.Should().BeGreaterThan(0, "some calls must be denied on the shared counter");
        outcomes.Where((_, i) => i % 6 == 0).Should().OnlyContain(o => !o.Decision.IsAllowed && !o.Entries[1].IsAllowed, "their own counters were full");
        (await PeekCountAsync(store, [new("shared", shared)])).Should().Be(taken, "the counter holds exactly what the admitted calls took");
        for (int i = 1; i < Callers; i += 6)
        {
            (await PeekCountAsync(store, [new($"own-{i}", own)])).Should().Be(outcomes[i].Decision.IsAllowed ? 1 : 0, $"own-{i} was written only when its call was admitted");
        }

        TimeSpan? ttl = await Admin.GetDatabase().KeyTimeToLiveAsync(store.CounterKey("shared", shared));
        ttl.Should().NotBeNull("the first write of a window sets its expiry, and later ones keep it");
        ttl!.Value.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(shared.Window + TimeSpan.FromMinutes(10));
    });

    [Fact]
    public Task AcquireAsync_ClientClockWindowRollsInsideABatch_EachWindowCountsOnlyItsOwnMembers()
        => PausedScenario.RunAsync(Redis, output, async scenario =>
    {
        // Half the callers arrive in one minute's window and half in the next, all in the same batch: each window's
        // counter (a key of its own on the client's clock) counts its own members only, and the in-memory store, on a
        // clock moved at the same call, decides the same. Seven own counters of 15 (which do not roll) deny some of
        // the next window's members before the shared counter does: those take nothing from it.
        // The queue's wait is timed on the same fake clock, which the minute's move must not time out.
        (_, RedisRateLimitStore store) = await OwnStoreAsync(scenario, useServerTime: false, TimeSpan.FromMinutes(10));
        FakeTimeProvider memoryTime = new(Time.GetUtcNow());
        InMemoryRateLimitStore memory = new(new InMemoryRateLimitStoreOptions(), memoryTime);
        RateLimitRule shared = RateLimitRule.FixedWindow(60, TimeSpan.FromMinutes(1));
        RateLimitRule own = RateLimitRule.FixedWindow(15, TimeSpan.FromDays(300));
        string firstWindowKey = store.CounterKey("shared", shared);
        TimeSpan toNextWindow = TimeSpan.FromMilliseconds(shared.GetWindowEnd(Time.GetUtcNow().ToUnixTimeMilliseconds()) - Time.GetUtcNow().ToUnixTimeMilliseconds() + 1);
        RateLimitRequest[] Request(int i) => [new($"own-{i % 7}", own), new("shared", shared)];
        long batches = store.Batcher!.BatchesSent;

        (RateLimitDecision Decision, RateLimitEntry[] Entries)[] outcomes = await AcquireWhilePausedAsync(scenario, store, i =>
        {
            if (i == Callers / 2)
            {
                Time.Advance(toNextWindow);
            }

            return Request(i);
        });
        scenario.AssertPremiseOrRunAgain();

        (store.Batcher.BatchesSent - batches).Should().BeGreaterThan(0);
        int[] admitted = new int[2];
        for (int i = 0; i < Callers; i++)
        {
            if (i == Callers / 2)
            {
                memoryTime.Advance(toNextWindow);
            }

            RateLimitEntry[] expectedEntries = new RateLimitEntry[2];
            RateLimitDecision expected = await memory.AcquireAsync(Request(i), expectedEntries);
            outcomes[i].Decision.Should().Be(expected, "call {0} in arrival order", i);
            outcomes[i].Entries.Should().Equal(expectedEntries, "entries of call {0}", i);
            admitted[i < Callers / 2 ? 0 : 1] += expected.IsAllowed ? 1 : 0;
        }

        admitted[0].Should().Be(60, "the first window's members fill it");
        admitted[1].Should().BeGreaterThan(0, "the next window's members count on their own window's counter");
        outcomes.Skip(Callers / 2).Should().Contain(o => o.Decision.DeniedIndex == 0, "some of the next window's members are denied on their own counters");
        ((long)await Admin.GetDatabase().StringGetAsync(firstWindowKey)).Should().Be(60);
        (await PeekCountAsync(store, [new("shared", shared)])).Should().Be(admitted[1]);
        TimeSpan? ttl = await Admin.GetDatabase().KeyTimeToLiveAsync(store.CounterKey("shared", shared));
        ttl.Should().NotBeNull();
        ttl!.Value.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(shared.Window + TimeSpan.FromMinutes(10));
    });
}
