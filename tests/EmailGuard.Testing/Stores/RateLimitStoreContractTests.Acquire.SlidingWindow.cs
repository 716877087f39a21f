using EmailGuard.Testing.Time;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Sliding windows: every segment of the trailing window counts, and the guarantee holds.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Acquire_SlidingWindow_CountsEverySegmentOfTheTrailingWindow()
    {
        // Arrange: 10 per minute in 6 segments of 10 s. Start (10:17:23.456) lies in the segment 10:17:20-10:17:30.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);
        string key = NewKey("sliding");
        DateTimeOffset segment0 = new(2026, 11, 23, 10, 17, 20, TimeSpan.Zero);

        // Act
        (_, RateLimitEntry a) = await AcquireOneAsync(store, key, rule, 4);
        time.Advance(TimeSpan.FromSeconds(10));
        (_, RateLimitEntry b) = await AcquireOneAsync(store, key, rule, 3);
        time.Advance(TimeSpan.FromSeconds(10));
        (_, RateLimitEntry c) = await AcquireOneAsync(store, key, rule, 3);
        DateTimeOffset t2 = time.GetUtcNow();
        (RateLimitDecision deniedOne, RateLimitEntry deniedOneEntry) = await AcquireOneAsync(store, key, rule, 1);
        (RateLimitDecision deniedFive, RateLimitEntry deniedFiveEntry) = await AcquireOneAsync(store, key, rule, 5);

        // Assert: an admitted acquire keeps its permits until S + 1 segments after its own segment starts.
        a.Should().Be(new RateLimitEntry(true, 4, 10, TimeSpan.Zero, segment0.AddSeconds(70)));
        b.Should().Be(new RateLimitEntry(true, 7, 10, TimeSpan.Zero, segment0.AddSeconds(80)));
        c.Should().Be(new RateLimitEntry(true, 10, 10, TimeSpan.Zero, segment0.AddSeconds(90)));

        // One permit frees when segment 0 (4 permits) leaves, at 10:18:30; five need segments 0 and 1, at 10:18:40.
        TimeSpan retryOne = segment0.AddSeconds(70) - t2;
        TimeSpan retryFive = segment0.AddSeconds(80) - t2;
        retryOne.Should().Be(TimeSpan.FromMilliseconds(46_544));
        deniedOne.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, retryOne, t2));
        deniedOneEntry.Should().Be(new RateLimitEntry(false, 10, 10, retryOne, segment0.AddSeconds(90)));
        deniedFive.RetryAfter.Should().Be(retryFive);
        deniedFiveEntry.Should().Be(new RateLimitEntry(false, 10, 10, retryFive, segment0.AddSeconds(90)));
    }

    [Fact]
    public async Task Acquire_SlidingWindowAcrossSegmentBoundary_FreesOldestSegmentExactlyAtRetryAfter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);
        string key = NewKey("sliding-boundary");
        DateTimeOffset segment0 = new(2026, 11, 23, 10, 17, 20, TimeSpan.Zero);
        await AcquireOneAsync(store, key, rule, 4);
        time.Advance(TimeSpan.FromSeconds(10));
        await AcquireOneAsync(store, key, rule, 3);
        time.Advance(TimeSpan.FromSeconds(10));
        await AcquireOneAsync(store, key, rule, 3);

        // Act
        time.SetUtcNow(segment0.AddSeconds(70).AddMilliseconds(-1));
        (RateLimitDecision justBefore, RateLimitEntry justBeforeEntry) = await AcquireOneAsync(store, key, rule);
        time.SetUtcNow(segment0.AddSeconds(70));
        (RateLimitDecision atBoundary, RateLimitEntry atBoundaryEntry) = await AcquireOneAsync(store, key, rule, 4);
        (RateLimitDecision full, RateLimitEntry fullEntry) = await AcquireOneAsync(store, key, rule);

        // Assert
        justBefore.IsAllowed.Should().BeFalse();
        justBefore.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(1));
        justBeforeEntry.Count.Should().Be(10);
        atBoundary.IsAllowed.Should().BeTrue();
        atBoundaryEntry.Should().Be(new RateLimitEntry(true, 10, 10, TimeSpan.Zero, segment0.AddSeconds(140)));
        full.IsAllowed.Should().BeFalse();

        // Segment 1 (3 permits) leaves at 10:18:40, 10 s from now.
        full.RetryAfter.Should().Be(TimeSpan.FromSeconds(10));
        fullEntry.Count.Should().Be(10);
    }

    [Fact]
    public async Task Peek_SlidingWindowEmptyKey_ReportsNothingCountedAndResetNow()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);

        // Act
        (RateLimitDecision decision, RateLimitEntry entry) = await PeekOneAsync(store, NewKey("sliding-empty"), rule, 0);

        // Assert
        decision.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
        entry.Should().Be(new RateLimitEntry(true, 0, 10, TimeSpan.Zero, Start));
    }

    [Fact]
    public async Task Peek_FixedWindowEmptyKey_ReportsTheWindowEnd()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(3);

        // Act
        (RateLimitDecision fits, RateLimitEntry fitsEntry) = await PeekOneAsync(store, NewKey("fixed-empty"), rule, 3);
        (RateLimitDecision never, RateLimitEntry neverEntry) = await PeekOneAsync(store, NewKey("fixed-empty"), rule, 4);

        // Assert
        fits.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
        fitsEntry.Should().Be(new RateLimitEntry(true, 0, 3, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        never.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, TimeSpan.MaxValue, Start));
        neverEntry.Should().Be(new RateLimitEntry(false, 0, 3, TimeSpan.MaxValue, StartOfMinute.AddMinutes(1)));
    }

    [Fact]
    public async Task Acquire_SlidingSameKeyTwice_RetryAfterCountsTheEarlierCost()
    {
        // Arrange: 8 permits in segment 10:17:20-10:17:30; the call asks 2 + 2 more against a limit of 10.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);
        string key = NewKey("sliding-twice");
        DateTimeOffset segment0 = new(2026, 11, 23, 10, 17, 20, TimeSpan.Zero);
        await AcquireOneAsync(store, key, rule, 8);
        time.Advance(TimeSpan.FromSeconds(15));
        DateTimeOffset now = time.GetUtcNow();

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new(key, rule, 2), new(key, rule, 2));

        // Assert: the second request needs 2 freed, which happens when segment 0 leaves the window at 10:18:30.
        decision.DeniedIndex.Should().Be(1);
        decision.RetryAfter.Should().Be(segment0.AddSeconds(70) - now);
        entries[0].Should().Be(new RateLimitEntry(true, 8, 10, TimeSpan.Zero, segment0.AddSeconds(70)));
        entries[1].Should().Be(new RateLimitEntry(false, 10, 10, segment0.AddSeconds(70) - now, segment0.AddSeconds(70)));
        (await CountAsync(store, key, rule)).Should().Be(8);
    }

    [Fact]
    public async Task Acquire_SlidingWindowAfterWholeWindowIdle_ForgetsEverything()
    {
        // Arrange: a ring of S + 1 slots must not mistake a segment from a whole ring ago for the current one.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(5, TimeSpan.FromSeconds(6), 3);
        string key = NewKey("sliding-ring");
        await AcquireOneAsync(store, key, rule, 5);

        // Act: exactly S + 1 segments (8 s) later the same ring slot comes round again.
        time.Advance(TimeSpan.FromSeconds(8));
        (RateLimitDecision decision, RateLimitEntry entry) = await AcquireOneAsync(store, key, rule, 5);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        entry.Count.Should().Be(5);
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 4)]
    [InlineData(3, 1)]
    [InlineData(4, 5)]
    public async Task Acquire_SlidingWindowRandomArrivals_NeverAdmitsMoreThanLimitInAnyWindow(int seed, int segments)
        => await RunSlidingGuaranteeAsync(seed, segments, operations: 2_000);

    /// <summary>
    /// Drives one sliding key with <paramref name="operations"/> acquires of random cost at random, non-decreasing fake
    /// times, checks every decision against an independent model of the specification, and then checks the guarantee
    /// itself: no interval of the window's length (ends included) holds more than the limit of admitted permits.
    /// </summary>
    /// <param name="seed">The random seed; fixed so a failure reproduces.</param>
    /// <param name="segments">The rule's segments.</param>
    /// <param name="operations">How many acquires to make.</param>
    /// <returns>A task that completes when the check is done.</returns>
    protected async Task RunSlidingGuaranteeAsync(int seed, int segments, int operations)
    {
        // Arrange: demand averages several times the limit, so the store is at the limit most of the time.
        const long Limit = 20;
        const long WindowMs = 1_000;
        Random random = new(seed);
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RealTimePacer pacer = new(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(Limit, TimeSpan.FromMilliseconds(WindowMs), segments);
        long segmentMs = WindowMs / segments;
        string key = NewKey($"property-{seed}");
        RateLimitRequest[] request = new RateLimitRequest[1];
        RateLimitEntry[] result = new RateLimitEntry[1];
        List<(long AtMs, long Cost)> admitted = [];
        int oldestCounted = 0;
        long counted = 0;
        int denials = 0;

        // Act
        for (int op = 0; op < operations; op++)
        {
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 4) == 0 ? random.Next(0, 400) : random.Next(0, 25)));
            pacer.KeepUp();
            long cost = random.Next(1, 6);
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            request[0] = new RateLimitRequest(key, rule, cost);
            RateLimitDecision decision = await store.AcquireAsync(request, result);

            // The model: permits count while their segment is one of the S + 1 that overlap the trailing window.
            long currentSegment = now / segmentMs;
            while (oldestCounted < admitted.Count && admitted[oldestCounted].AtMs / segmentMs < currentSegment - segments)
            {
                counted -= admitted[oldestCounted].Cost;
                oldestCounted++;
            }

            bool expected = counted + cost <= Limit;
            decision.IsAllowed.Should().Be(expected, "operation {0} at {1} ms with cost {2} and {3} counted", op, now, cost, counted);
            result[0].Count.Should().Be(counted + (expected ? cost : 0), "operation {0}", op);
            if (decision.IsAllowed)
            {
                admitted.Add((now, cost));
                counted += cost;
            }
            else
            {
                denials++;
                decision.RetryAfter.Should().BePositive("operation {0}", op);
            }
        }

        // Assert
        admitted.Count.Should().BeGreaterThan(operations / 10, "the limit must not deny nearly everything");
        denials.Should().BeGreaterThan(0, "the test must actually push the store against its limit");
        long worst = 0;
        long sum = 0;
        int right = 0;
        for (int left = 0; left < admitted.Count; left++)
        {
            while (right < admitted.Count && admitted[right].AtMs <= admitted[left].AtMs + WindowMs)
            {
                sum += admitted[right].Cost;
                right++;
            }

            worst = Math.Max(worst, sum);
            sum -= admitted[left].Cost;
        }

        worst.Should().BeLessThanOrEqualTo(Limit);
    }
}
