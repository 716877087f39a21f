using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// The in-memory store's defence against a flood of distinct keys (random IPs, random recipients): a hard cap on
/// counters, no early eviction of live counters, and reclamation of expired ones.
/// </summary>
public sealed class InMemoryRateLimitStoreCapacityTests
{
    private const int MaxTrackedKeys = 10_000;
    private const int FloodKeys = 1_000_000;
    private const int FloodWorkers = 4;

    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    [Fact]
    public async Task Acquire_FloodOfDistinctKeys_NeverTracksMoreThanTheCapNorEvictsLiveCounters()
    {
        // Arrange: the periodic sweep is pushed out of the way so that only the capacity path can reclaim.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule victimRule = RateLimitRule.PerHour(5);
        RateLimitRule floodRule = RateLimitRule.PerMinute(1);
        (await store.AcquireAsync("victim", victimRule, 5)).Decision.IsAllowed.Should().BeTrue();
        using ManualResetEventSlim go = new(false);

        // Act
        Task<FloodResult>[] workers = Enumerable.Range(0, FloodWorkers)
            .Select(worker => Task.Factory.StartNew(
                () => Flood(store, floodRule, worker, go),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default))
            .ToArray();
        go.Set();
        FloodResult[] results = await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(5));
        (RateLimitDecision victimAfterFlood, RateLimitEntry victimEntry) = await store.AcquireAsync("victim", victimRule);
        (RateLimitDecision newKeyWhileFull, _) = await store.AcquireAsync("late-comer", floodRule);

        // Assert
        results.Sum(r => r.Admitted).Should().Be(MaxTrackedKeys - 1, "the victim holds one of the slots");
        results.Max(r => r.MostTracked).Should().BeLessThanOrEqualTo(MaxTrackedKeys);
        results.Sum(r => r.DeniedWithWrongRetry).Should().Be(0);
        store.TrackedKeys.Should().Be(MaxTrackedKeys);
        victimAfterFlood.IsAllowed.Should().BeFalse("the flood must not reset or evict a counter that is still limiting");
        victimEntry.Count.Should().Be(5);
        newKeyWhileFull.IsAllowed.Should().BeFalse();
        newKeyWhileFull.RetryAfter.Should().Be(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Acquire_FullOfLiveCounters_StaysFullUntilTheyExpireThenAdmitsAgain()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule victimRule = RateLimitRule.PerHour(5);
        RateLimitRule floodRule = RateLimitRule.PerMinute(1);
        await store.AcquireAsync("victim", victimRule, 5);
        for (int i = 0; i < MaxTrackedKeys * 2; i++)
        {
            await store.AcquireAsync($"flood-{i}", floodRule);
        }

        // Act: a capacity sweep a few seconds on finds nothing expired; after the minute it reclaims the flood.
        time.Advance(TimeSpan.FromSeconds(5));
        (RateLimitDecision stillFull, _) = await store.AcquireAsync("late-comer", floodRule);
        int trackedWhileFull = store.TrackedKeys;
        time.SetUtcNow(new DateTimeOffset(2026, 11, 23, 10, 18, 0, TimeSpan.Zero));
        (RateLimitDecision afterExpiry, RateLimitEntry afterExpiryEntry) = await store.AcquireAsync("late-comer", floodRule);
        int trackedAfterExpiry = store.TrackedKeys;
        (RateLimitDecision victim, RateLimitEntry victimEntry) = await store.AcquireAsync("victim", victimRule);

        // Assert
        stillFull.IsAllowed.Should().BeFalse();
        trackedWhileFull.Should().Be(MaxTrackedKeys);
        afterExpiry.IsAllowed.Should().BeTrue();
        afterExpiryEntry.Count.Should().Be(1);
        trackedAfterExpiry.Should().Be(2, "only the victim and the late-comer still count");
        victim.IsAllowed.Should().BeFalse();
        victimEntry.Count.Should().Be(5);
    }

    [Fact]
    public async Task Acquire_MultiKeyWhenFull_IsDeniedAndTakesNothingFromExistingKeys()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time, maxTrackedKeys: 2);
        RateLimitRule rule = RateLimitRule.PerHour(10);
        await store.AcquireAsync("a", rule, 3);
        await store.AcquireAsync("b", rule, 4);

        // Act
        RateLimitEntry[] entries = new RateLimitEntry[3];
        RateLimitDecision decision = await store.AcquireAsync(new RateLimitRequest[] { new("a", rule), new("b", rule), new("c", rule) }, entries);

        // Assert
        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(2);
        entries[2].IsAllowed.Should().BeFalse();
        (await store.PeekAsync("a", rule)).Entry.Count.Should().Be(3);
        (await store.PeekAsync("b", rule)).Entry.Count.Should().Be(4);
        store.TrackedKeys.Should().Be(2);
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

    [Fact]
    public async Task Sweep_CounterOnlyDenied_IsReclaimed()
    {
        // Arrange: a denied acquire on a new key leaves an empty counter behind, which must not hold a slot forever.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(1);
        (await store.AcquireAsync("too-big", rule, 2)).Decision.IsAllowed.Should().BeFalse();
        int trackedBefore = store.TrackedKeys;

        // Act
        int removed = store.Sweep();

        // Assert
        trackedBefore.Should().Be(1);
        removed.Should().Be(1);
        store.TrackedKeys.Should().Be(0);
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

    private static InMemoryRateLimitStore CreateStore(FakeTimeProvider time, int maxTrackedKeys = MaxTrackedKeys)
        => new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = maxTrackedKeys, SweepInterval = TimeSpan.FromDays(1) }, time);

    private static FloodResult Flood(InMemoryRateLimitStore store, RateLimitRule rule, int worker, ManualResetEventSlim go)
    {
        RateLimitRequest[] request = new RateLimitRequest[1];
        RateLimitEntry[] result = new RateLimitEntry[1];
        int admitted = 0;
        int mostTracked = 0;
        int deniedWithWrongRetry = 0;
        go.Wait(TimeSpan.FromMinutes(1));
        for (int i = worker; i < FloodKeys; i += FloodWorkers)
        {
            request[0] = new RateLimitRequest($"flood-{i}", rule);
            ValueTask<RateLimitDecision> pending = store.AcquireAsync(request, result);
            RateLimitDecision decision = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
            if (decision.IsAllowed)
            {
                admitted++;
            }
            else if (decision.RetryAfter != TimeSpan.FromSeconds(1))
            {
                deniedWithWrongRetry++;
            }

            mostTracked = Math.Max(mostTracked, store.TrackedKeys);
        }

        return new FloodResult(admitted, mostTracked, deniedWithWrongRetry);
    }

    private readonly record struct FloodResult(int Admitted, int MostTracked, int DeniedWithWrongRetry);
}
