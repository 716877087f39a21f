using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// Exactness of the in-memory store under real contention: many threads released at once against the same counters.
/// The clock is fake and frozen, so every caller is in the same window and the admitted count is exact.
/// </summary>
public sealed class InMemoryRateLimitStoreConcurrencyTests
{
    private const int Callers = 512;
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow, 1)]
    [InlineData(RateLimitAlgorithm.SlidingWindow, 1)]
    [InlineData(RateLimitAlgorithm.FixedWindow, 3)]
    [InlineData(RateLimitAlgorithm.SlidingWindow, 3)]
    public async Task Acquire_ConcurrentCallersOnOneKey_AdmitExactlyTheLimit(RateLimitAlgorithm algorithm, int cost)
    {
        // Arrange: 512 callers of 4 attempts each want 2,048 x cost permits; 500 x cost fit.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        RateLimitRule rule = new(500 * cost, TimeSpan.FromMinutes(1), algorithm);
        using ManualResetEventSlim go = new(false);

        // Act
        Task<int>[] callers = StartCallers(go, _ =>
        {
            RateLimitRequest[] request = [new("hot", rule, cost)];
            RateLimitEntry[] result = new RateLimitEntry[1];
            int admitted = 0;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                admitted += Acquire(store, request, result).IsAllowed ? 1 : 0;
            }

            return admitted;
        });
        go.Set();
        int[] admitted = await Task.WhenAll(callers).WaitAsync(HangGuard);

        // Assert
        admitted.Sum().Should().Be(500);
        (await store.PeekAsync("hot", rule)).Entry.Count.Should().Be(500 * cost);
    }

    [Fact]
    public async Task Acquire_ConcurrentMultiKeyCallers_NeverCommitOneKeyWithoutTheOthers()
    {
        // Arrange: "a" and "b" are always acquired together with one of eight third keys (random cost 1-2), in varying
        // order, so lock ordering matters; a reader peeks a and b together and must never see them differ.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        RateLimitRule pairRule = RateLimitRule.PerHour(1_000);
        RateLimitRule thirdRule = RateLimitRule.SlidingWindow(300, TimeSpan.FromHours(1), 6);
        long[] committedPerThird = new long[8];
        using ManualResetEventSlim go = new(false);
        using CancellationTokenSource readerStop = new();
        Task<int> reader = Task.Factory.StartNew(
            () => ReadPairs(store, pairRule, go, readerStop.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        // Act
        Task<int>[] callers = StartCallers(go, caller =>
        {
            Random random = new(caller);
            RateLimitEntry[] results = new RateLimitEntry[3];
            int admitted = 0;
            for (int attempt = 0; attempt < 8; attempt++)
            {
                int third = random.Next(8);
                long cost = random.Next(1, 3);
                RateLimitRequest thirdRequest = new($"third-{third}", thirdRule, cost);
                RateLimitRequest[] requests = random.Next(3) switch
                {
                    0 => [new("a", pairRule), new("b", pairRule), thirdRequest],
                    1 => [thirdRequest, new("b", pairRule), new("a", pairRule)],
                    _ => [new("b", pairRule), thirdRequest, new("a", pairRule)],
                };
                if (Acquire(store, requests, results).IsAllowed)
                {
                    Interlocked.Add(ref committedPerThird[third], cost);
                    admitted++;
                }
            }

            return admitted;
        });
        go.Set();
        int[] admitted = await Task.WhenAll(callers).WaitAsync(HangGuard);
        await readerStop.CancelAsync();
        int mismatches = await reader.WaitAsync(HangGuard);

        // Assert
        mismatches.Should().Be(0);
        long a = (await store.PeekAsync("a", pairRule)).Entry.Count;
        long b = (await store.PeekAsync("b", pairRule)).Entry.Count;
        a.Should().Be(b);
        a.Should().Be(admitted.Sum());
        a.Should().Be(1_000, "4,096 attempts exceed the pair's limit while the third keys can hold 2,400");
        for (int third = 0; third < committedPerThird.Length; third++)
        {
            long count = (await store.PeekAsync($"third-{third}", thirdRule)).Entry.Count;
            count.Should().Be(committedPerThird[third]);
            count.Should().BeLessThanOrEqualTo(300);
        }
    }

    [Fact]
    public async Task Acquire_ConcurrentCallsThatNameOneCounterOrShapeTwice_AdmitExactlyWithoutDeadlock()
    {
        // Arrange: every call names "hot" twice (one counter) and two keys without a counter under one rule (one shape
        // that decides them). The store's locks are not reentrant, so a call that took either object twice would hang
        // (the hang guard fails it). 512 callers of 4 attempts want 4,096 permits of "hot", 2 per call; 1,000 fit.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        RateLimitRule rule = RateLimitRule.PerHour(1_000);
        RateLimitRule fresh = RateLimitRule.PerHour(5);
        using ManualResetEventSlim go = new(false);

        // Act
        Task<int>[] callers = StartCallers(go, caller =>
        {
            RateLimitEntry[] results = new RateLimitEntry[4];
            int admitted = 0;
            for (int attempt = 0; attempt < 4; attempt++)
            {
                RateLimitRequest[] requests =
                [
                    new("hot", rule), new($"new-{caller}-{attempt}-a", fresh), new("hot", rule), new($"new-{caller}-{attempt}-b", fresh),
                ];
                if (Acquire(store, requests, results).IsAllowed)
                {
                    results[2].Count.Should().Be(results[0].Count + 1, "the second request on a counter counts the first one's cost");
                    admitted++;
                }
            }

            return admitted;
        });
        go.Set();
        int[] admitted = await Task.WhenAll(callers).WaitAsync(HangGuard);

        // Assert
        admitted.Sum().Should().Be(500);
        (await store.PeekAsync("hot", rule)).Entry.Count.Should().Be(1_000);
        store.TrackedKeys.Should().Be(1 + (2 * 500), "an admitted call creates the counters of its new keys, a denied one none");
    }

    private static Task<int>[] StartCallers(ManualResetEventSlim go, Func<int, int> body)
        => Enumerable.Range(0, Callers)
            .Select(caller => Task.Factory.StartNew(
                () =>
                {
                    go.Wait(HangGuard);
                    return body(caller);
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default))
            .ToArray();

    private static RateLimitDecision Acquire(InMemoryRateLimitStore store, RateLimitRequest[] requests, RateLimitEntry[] results)
    {
        // The in-memory store always completes synchronously; anything else would be a defect worth seeing here.
        ValueTask<RateLimitDecision> pending = store.AcquireAsync(requests, results);
        pending.IsCompletedSuccessfully.Should().BeTrue();
        return pending.Result;
    }

    private static int ReadPairs(InMemoryRateLimitStore store, RateLimitRule rule, ManualResetEventSlim go, CancellationToken stop)
    {
        RateLimitRequest[] pair = [new("a", rule, 0), new("b", rule, 0)];
        RateLimitEntry[] results = new RateLimitEntry[2];
        int mismatches = 0;
        go.Wait(HangGuard);
        for (int reads = 0; reads < 1_000_000 && !stop.IsCancellationRequested; reads++)
        {
            ValueTask<RateLimitDecision> pending = store.PeekAsync(pair, results);
            _ = pending.Result;
            mismatches += results[0].Count == results[1].Count ? 0 : 1;
        }

        return mismatches;
    }
}
