using System.Runtime.InteropServices;
using EmailGuard.Tests.Resilience;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// The in-memory store's defence against a flood of distinct keys (random IPs, random recipients): a hard cap on
/// counters, no early eviction of live counters, no lockout of new keys (they are counted in an overflow sketch that
/// only over-counts), and reclamation of expired counters.
/// </summary>
public sealed class InMemoryRateLimitStoreCapacityTests
{
    private const int MaxTrackedKeys = 10_000;

    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    [Fact]
    public async Task Acquire_FloodOfDistinctKeysPastTheCap_NewKeysStillDecidedAndNoCounterEvicted()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(5);
        await AcquireTimes(store, "victim", rule, 5);

        // Act: four times the cap in distinct keys, from four threads.
        int[] admitted = await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            RateLimitRequest[] request = new RateLimitRequest[1];
            int count = 0;
            for (int i = worker; i < 4 * MaxTrackedKeys; i += 4)
            {
                request[0] = new RateLimitRequest($"flood-{i}", rule);
                count += AcquireNow(store, request) ? 1 : 0;
            }

            return count;
        })));
        (RateLimitDecision victim, RateLimitEntry victimEntry) = await store.AcquireAsync("victim", rule);
        int lateAdmitted = await AcquireTimes(store, "late-comer", rule, 3);

        // Assert
        admitted.Sum().Should().BeGreaterThan(4 * MaxTrackedKeys * 99 / 100, "a flood costs precision, not availability");
        store.TrackedKeys.Should().Be(MaxTrackedKeys);
        victim.IsAllowed.Should().BeFalse("the flood must not reset or evict a counter that is still limiting");
        victimEntry.Count.Should().Be(5);
        victim.RetryAfter.Should().Be(TimeSpan.FromMinutes(42) + TimeSpan.FromSeconds(36) + TimeSpan.FromMilliseconds(544), "the victim waits for its own window, not for room");
        lateAdmitted.Should().Be(3);
        store.OverflowDecisions.Should().BeGreaterThan(0);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Acquire_KeysInTheOverflow_NeverAdmittedBeyondTheirLimitInAnyWindow(RateLimitAlgorithm algorithm)
    {
        // Arrange: a store that is full at once, so every key but one lives in the overflow sketch; 300 keys share a
        // sketch of 1,024 columns, so they collide. The attacker asks at random moments with random costs.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = new(7, TimeSpan.FromMinutes(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
        await store.AcquireAsync("occupant", RateLimitRule.PerDay(1));
        Random random = new(1234);
        Dictionary<string, List<(long AtMs, long Cost)>> admitted = [];

        // Act
        for (int step = 0; step < 20_000; step++)
        {
            string key = $"k{random.Next(300)}";
            long cost = random.Next(1, 4);
            (RateLimitDecision decision, RateLimitEntry entry) = await store.AcquireAsync(key, rule, cost);
            if (decision.IsAllowed)
            {
                (CollectionsMarshal.GetValueRefOrAddDefault(admitted, key, out _) ??= []).Add((time.GetUtcNow().ToUnixTimeMilliseconds(), cost));
            }
            else
            {
                decision.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero);
            }

            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 60)));
        }

        // Assert
        store.TrackedKeys.Should().Be(1);
        admitted.Values.Sum(list => list.Count).Should().BeGreaterThan(1000, "keys in the overflow are still admitted");
        foreach ((string key, List<(long AtMs, long Cost)> grants) in admitted)
        {
            MostInAnyWindow(grants, rule).Should().BeLessThanOrEqualTo(rule.Limit, $"key {key} must never pass its limit");
        }
    }

    [Fact]
    public async Task Acquire_OneOverflowKeyFromEightThreads_AdmitsExactlyTheLimit()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = RateLimitRule.PerHour(100);
        await store.AcquireAsync("occupant", RateLimitRule.PerDay(1));
        int admitted = 0;

        // Act
        Parallel.For(0, 8, _ =>
        {
            RateLimitRequest[] request = [new("overflow", rule)];
            for (int i = 0; i < 1_000; i++)
            {
                if (AcquireNow(store, request))
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        });

        // Assert
        admitted.Should().Be(100);
        store.TrackedKeys.Should().Be(1);
    }

    [Fact]
    public void Acquire_KeysRacingForTheLastSlots_NeverPassTheirLimits()
    {
        // Arrange: 200 keys, room for 50 counters, 8 threads; multi-key calls mix keys with and without counters, and
        // resets free slots as they go, so keys move between the overflow sketch and counters while others decide them.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 50);
        RateLimitRule rule = RateLimitRule.PerHour(5);
        RateLimitRule other = RateLimitRule.PerHour(1_000_000);
        int[] admitted = new int[200];

        // Act
        Parallel.For(0, 8, worker =>
        {
            Random random = new(worker);
            RateLimitRequest[] pair = new RateLimitRequest[2];
            for (int i = 0; i < 5_000; i++)
            {
                int key = random.Next(200);
                pair[0] = new RateLimitRequest($"k{key}", rule);
                pair[1] = new RateLimitRequest($"o{random.Next(100)}", other);
                if (AcquireNow(store, pair))
                {
                    Interlocked.Increment(ref admitted[key]);
                }

                if (i % 97 == 0)
                {
                    // The in-memory store completes synchronously.
                    _ = store.ResetAsync($"o{random.Next(100)}", other);
                }
            }
        });

        // Assert
        admitted.Should().OnlyContain(count => count <= 5);
        admitted.Sum().Should().BeGreaterThan(200 * 5 / 2, "keys are still admitted while the store is full");
        store.TrackedKeys.Should().BeLessThanOrEqualTo(50);
    }

    [Fact]
    public async Task Acquire_KeyCountedInTheOverflowThenGivenACounter_KeepsItsCount()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = RateLimitRule.PerHour(5);
        await store.AcquireAsync("occupant", rule);
        (await AcquireTimes(store, "moving", rule, 3)).Should().Be(3);

        // Act: the slot frees up, so the next acquire gives the key an exact counter.
        await store.ResetAsync("occupant", rule);
        int more = await AcquireTimes(store, "moving", rule, 5);

        // Assert
        store.TrackedKeys.Should().Be(1);
        more.Should().BeLessThanOrEqualTo(2, "the three permits taken in the overflow still count");
        (await store.PeekAsync("moving", rule)).Entry.Count.Should().BeGreaterThanOrEqualTo(5);
    }

    [Fact]
    public async Task Acquire_DeniedOnNewKeys_CreatesNoCounter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(1);
        RateLimitRule tight = RateLimitRule.PerHour(2);
        await store.AcquireAsync("spent", tight, 2);

        // Act
        (RateLimitDecision tooBig, _) = await store.AcquireAsync("too-big", rule, 2);
        RateLimitDecision multi = await store.AcquireAsync(
            new RateLimitRequest[] { new("new-1", rule), new("new-2", tight), new("spent", tight) }, Memory<RateLimitEntry>.Empty);

        // Assert
        tooBig.IsAllowed.Should().BeFalse();
        multi.DeniedIndex.Should().Be(2);
        store.TrackedKeys.Should().Be(1, "only the key that was admitted has a counter");
        store.Sweep().Should().Be(0);
    }

    [Fact]
    public async Task Acquire_MultiKeyWhenFull_DecidesTheNewKeyAndAdmitsAllOrNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 2);
        RateLimitRule rule = RateLimitRule.PerHour(10);
        await store.AcquireAsync("a", rule, 3);
        await store.AcquireAsync("b", rule, 4);
        RateLimitEntry[] entries = new RateLimitEntry[3];

        // Act
        RateLimitDecision admitted = await store.AcquireAsync(new RateLimitRequest[] { new("a", rule), new("b", rule), new("c", rule, 2) }, entries);
        RateLimitEntry admittedC = entries[2];
        RateLimitDecision denied = await store.AcquireAsync(new RateLimitRequest[] { new("a", rule), new("c", rule, 9) }, entries);

        // Assert
        admitted.IsAllowed.Should().BeTrue();
        admittedC.Should().Match<RateLimitEntry>(e => e.IsAllowed && e.Count == 2 && e.ResetAt == new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero));
        denied.DeniedIndex.Should().Be(1);
        entries[1].Count.Should().Be(2);
        (await store.PeekAsync("a", rule)).Entry.Count.Should().Be(4, "the denied call took nothing from a");
        (await store.PeekAsync("b", rule)).Entry.Count.Should().Be(5);
        (await store.PeekAsync("c", rule)).Entry.Count.Should().Be(2);
        store.TrackedKeys.Should().Be(2);
    }

    [Fact]
    public async Task Acquire_SameNewKeyTwiceInOneCall_CountsBothCostsOnOneCounter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(5);

        // Act
        RateLimitDecision first = await store.AcquireAsync(new RateLimitRequest[] { new("x", rule, 2), new("x", rule, 3) }, Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.AcquireAsync(new RateLimitRequest[] { new("y", rule, 3), new("y", rule, 3) }, Memory<RateLimitEntry>.Empty);

        // Assert
        first.IsAllowed.Should().BeTrue();
        second.DeniedIndex.Should().Be(1);
        (await store.PeekAsync("x", rule)).Entry.Count.Should().Be(5);
        store.TrackedKeys.Should().Be(1);
    }

    [Fact]
    public async Task Peek_UnknownKeyWhenFull_ReadsZeroWithoutTakingASlot()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = RateLimitRule.PerHour(10);
        await store.AcquireAsync("a", rule, 3);

        // Act
        (RateLimitDecision decision, RateLimitEntry entry) = await store.PeekAsync("unknown", rule, 1);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        entry.Count.Should().Be(0);
        store.TrackedKeys.Should().Be(1);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Sweep_AfterWindowsPass_ReclaimsExactlyTheExpiredCounters(RateLimitAlgorithm algorithm)
    {
        // Arrange: one minute windows; the sliding one (6 segments) keeps a permit until 7 segments after its segment.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = new(10, TimeSpan.FromMinutes(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
        RateLimitRule daily = RateLimitRule.PerDay(10);
        for (int i = 0; i < 100; i++)
        {
            await store.AcquireAsync($"short-{i}", rule);
        }

        await store.AcquireAsync("long", daily);
        DateTimeOffset expiry = algorithm == RateLimitAlgorithm.FixedWindow
            ? new DateTimeOffset(2026, 11, 23, 10, 18, 0, TimeSpan.Zero)
            : new DateTimeOffset(2026, 11, 23, 10, 18, 30, TimeSpan.Zero);

        // Act
        time.SetUtcNow(expiry.AddMilliseconds(-1));
        int removedBefore = store.Sweep();
        int trackedBefore = store.TrackedKeys;
        time.SetUtcNow(expiry);
        int removedAt = store.Sweep();

        // Assert
        removedBefore.Should().Be(0);
        trackedBefore.Should().Be(101);
        removedAt.Should().Be(100);
        store.TrackedKeys.Should().Be(1);
        (await store.PeekAsync("long", daily)).Entry.Count.Should().Be(1);
        (await store.AcquireAsync("short-0", rule)).Entry.Count.Should().Be(1, "a reclaimed counter starts afresh");
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Acquire_OverflowKeyAfterItsWindowPassed_StartsAfreshAndTheSketchIsDropped(RateLimitAlgorithm algorithm)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = new(2, TimeSpan.FromMinutes(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
        await store.AcquireAsync("occupant", RateLimitRule.PerDay(1));
        (await AcquireTimes(store, "overflow", rule, 3)).Should().Be(2);
        (RateLimitDecision denied, _) = await store.AcquireAsync("overflow", rule);

        // Act
        time.Advance(denied.RetryAfter);
        (RateLimitDecision again, _) = await store.AcquireAsync("overflow", rule);
        time.Advance(TimeSpan.FromMinutes(2));
        store.Sweep();
        (RateLimitDecision afresh, RateLimitEntry entry) = await store.AcquireAsync("fresh", rule, 2);

        // Assert
        denied.RetryAfter.Should().BeGreaterThan(TimeSpan.Zero).And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(1.5));
        again.IsAllowed.Should().BeTrue("the retry-after of an overflow denial is honest");
        afresh.IsAllowed.Should().BeTrue();
        entry.Count.Should().Be(2);
    }

    [Fact]
    public async Task Reset_TrackedKey_FreesItsSlot()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 1);
        RateLimitRule rule = RateLimitRule.PerHour(10);
        await store.AcquireAsync("a", rule, 3);

        // Act
        await store.ResetAsync("a", rule);
        (RateLimitDecision decision, _) = await store.AcquireAsync("b", rule);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        store.TrackedKeys.Should().Be(1);
    }

    [Fact]
    public async Task Acquire_StoreFills_LogsOnceAndReportsTrackedKeysAndOverflowDecisions()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        using TestMeterFactory meterFactory = new();
        using EmailGuardMetrics metrics = new(meterFactory);
        using MetricCollector<int> tracked = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.TrackedKeysInstrument);
        using MetricCollector<long> overflow = new(meterFactory, EmailGuardDiagnostics.MeterName, EmailGuardMetrics.OverflowDecisionsInstrument);
        FakeLogger logger = new();
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 3, SweepInterval = TimeSpan.FromDays(1) }, time, logger, metrics);
        RateLimitRule rule = RateLimitRule.PerHour(10);

        // Act
        for (int i = 0; i < 10; i++)
        {
            await store.AcquireAsync($"k{i}", rule);
        }

        tracked.RecordObservableInstruments();

        // Assert
        tracked.LastMeasurement!.Value.Should().Be(3);
        tracked.LastMeasurement.Tags.Should().Contain("emailguard.store.name", "in_memory");
        overflow.GetMeasurementSnapshot().Should().HaveCount(7).And.OnlyContain(m => m.Tags["emailguard.store.name"]!.Equals("in_memory"));
        logger.Collector.GetSnapshot().Where(r => r.Id.Id == 1200).Should().ContainSingle()
            .Which.Level.Should().Be(Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    private static InMemoryRateLimitStore CreateStore(FakeTimeProvider time, int maxTrackedKeys = MaxTrackedKeys)
        => new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = maxTrackedKeys, SweepInterval = TimeSpan.FromDays(1) }, time);

    /// <summary>An acquire from a worker thread; the in-memory store completes synchronously.</summary>
    private static bool AcquireNow(InMemoryRateLimitStore store, RateLimitRequest[] requests)
    {
        ValueTask<RateLimitDecision> pending = store.AcquireAsync(requests, default);
        pending.IsCompletedSuccessfully.Should().BeTrue();
        return pending.Result.IsAllowed;
    }

    private static async Task<int> AcquireTimes(InMemoryRateLimitStore store, string key, RateLimitRule rule, int times)
    {
        int admitted = 0;
        for (int i = 0; i < times; i++)
        {
            admitted += (await store.AcquireAsync(key, rule)).Decision.IsAllowed ? 1 : 0;
        }

        return admitted;
    }

    /// <summary>The most permits granted in any window: a fixed one, or any interval of the window's length.</summary>
    private static long MostInAnyWindow(List<(long AtMs, long Cost)> grants, RateLimitRule rule)
    {
        long windowMs = (long)rule.Window.TotalMilliseconds;
        long most = 0;
        for (int i = 0; i < grants.Count; i++)
        {
            long sum = 0;
            for (int j = i; j < grants.Count; j++)
            {
                bool inWindow = rule.Algorithm == RateLimitAlgorithm.FixedWindow
                    ? grants[j].AtMs / windowMs == grants[i].AtMs / windowMs
                    : grants[j].AtMs - grants[i].AtMs < windowMs;
                if (!inWindow)
                {
                    break;
                }

                sum += grants[j].Cost;
            }

            most = Math.Max(most, sum);
        }

        return most;
    }
}
