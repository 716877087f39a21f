using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// Counters in a reservation: a fixed or sliding window whose limit is <see cref="RateLimitRule.MaxLimit"/> never
/// denies, so it takes part in any reservation, counts at the decision's time (now) and never moves the reserved time;
/// a window rule that can deny still holds a reservation to its current window or segment.
/// </summary>
public abstract partial class ReservationContractTests
{
    /// <summary>One permit a second, burst 1: emptied at the start, the next permit is 1 s ahead.</summary>
    private static readonly RateLimitRule s_slowBucket = RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(1), 1);

    /// <summary>A counter over 10 s in 1-s segments: the reserved time (Start + 1 s) lies in the next segment.</summary>
    private static readonly RateLimitRule s_slidingCounter = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, TimeSpan.FromSeconds(10), 10);

    /// <summary>A counter over fixed 1-s windows: the reserved time lies in the next window.</summary>
    private static readonly RateLimitRule s_fixedCounter = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, TimeSpan.FromSeconds(1));

    [Fact]
    public async Task Reserve_CountersWhoseNextSegmentHoldsTheReservedTime_AdmitAndCountNow()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("counter-bucket");
        string sliding = NewKey("counter-sliding");
        string fixedKey = NewKey("counter-fixed");
        await store.AcquireAsync(new[] { new RateLimitRequest(bucket, s_slowBucket) }, Memory<RateLimitEntry>.Empty);

        // Act
        (RateLimitDecision reserved, RateLimitEntry[] entries) = await ReserveAsync(
            store, TimeSpan.FromSeconds(5), new RateLimitRequest(bucket, s_slowBucket), new RateLimitRequest(sliding, s_slidingCounter, 3), new RateLimitRequest(fixedKey, s_fixedCounter, 2));
        long slidingNow = await PeekCountAsync(store, sliding, s_slidingCounter);
        long fixedNow = await PeekCountAsync(store, fixedKey, s_fixedCounter);
        time.Advance(TimeSpan.FromSeconds(1));
        long slidingAtTheReservedTime = await PeekCountAsync(store, sliding, s_slidingCounter);
        long fixedAtTheReservedTime = await PeekCountAsync(store, fixedKey, s_fixedCounter);
        time.Advance(TimeSpan.FromSeconds(10));
        long slidingAfterItsWindow = await PeekCountAsync(store, sliding, s_slidingCounter);

        // Assert: reserved at the bucket's time, unmoved by the counters, which counted in the segment and window of now.
        reserved.IsAllowed.Should().BeTrue();
        reserved.Timestamp.Should().Be(Start.AddSeconds(1));
        reserved.DecidedAt.Should().Be(Start);
        entries[1].Should().Be(new RateLimitEntry(true, 3, RateLimitRule.MaxLimit, TimeSpan.Zero, new DateTimeOffset(2026, 11, 23, 10, 17, 34, TimeSpan.Zero)));
        entries[2].Should().Be(new RateLimitEntry(true, 2, RateLimitRule.MaxLimit, TimeSpan.Zero, new DateTimeOffset(2026, 11, 23, 10, 17, 24, TimeSpan.Zero)));
        slidingNow.Should().Be(3);
        fixedNow.Should().Be(2);
        slidingAtTheReservedTime.Should().Be(3, "the segment of the decision is still in the window");
        fixedAtTheReservedTime.Should().Be(0, "the fixed window of the decision has ended");
        slidingAfterItsWindow.Should().Be(0, "the count left the window 10 s after the segment it went into, not after the reserved time's");
    }

    [Fact]
    public async Task Refund_ReservationAheadWithCounters_GivesTheCountsBackEvenFromTheReservedTime()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("counter-refund-bucket");
        string sliding = NewKey("counter-refund-sliding");
        string fixedKey = NewKey("counter-refund-fixed");
        RateLimitRequest[] requests = [new(bucket, s_slowBucket), new(sliding, s_slidingCounter, 3), new(fixedKey, s_fixedCounter, 2)];
        await store.AcquireAsync(new[] { new RateLimitRequest(bucket, s_slowBucket) }, Memory<RateLimitEntry>.Empty);
        await store.AcquireAsync(new[] { new RateLimitRequest(sliding, s_slidingCounter, 5) }, Memory<RateLimitEntry>.Empty);
        RateLimitDecision first = await store.ReserveAsync(requests, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);
        RateLimitDecision second = await store.ReserveAsync(requests, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);

        // Act: the last one is cancelled at once; the first when its reserved time has come (the next segment).
        bool cancelledSecond = await store.RefundAsync(requests, second);
        long slidingAfterOne = await PeekCountAsync(store, sliding, s_slidingCounter);
        long fixedAfterOne = await PeekCountAsync(store, fixedKey, s_fixedCounter);
        time.Advance(TimeSpan.FromSeconds(1));
        bool cancelledFirst = await store.RefundAsync(requests, first);
        bool again = await store.RefundAsync(requests, first);
        long slidingAfterBoth = await PeekCountAsync(store, sliding, s_slidingCounter);
        RateLimitDecision next = await store.ReserveAsync(requests, TimeSpan.FromSeconds(5), Memory<RateLimitEntry>.Empty);

        // Assert
        first.Timestamp.Should().Be(Start.AddSeconds(1));
        second.Timestamp.Should().Be(Start.AddSeconds(2));
        cancelledSecond.Should().BeTrue();
        slidingAfterOne.Should().Be(5 + 3);
        fixedAfterOne.Should().Be(2);
        cancelledFirst.Should().BeTrue();
        again.Should().BeFalse("a reservation is refunded once");
        slidingAfterBoth.Should().Be(5, "both counts were given back to the segment they went into, and only theirs");
        next.Timestamp.Should().Be(Start.AddSeconds(1), "the first reservation's slot came back, and it is now");
    }

    [Fact]
    public async Task Reserve_LimitedSlidingWindowWhoseNextSegmentHoldsTheReservedTime_StillDenies()
    {
        // Arrange: the same sliding window with a limit far from reached, next to a counter.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("limited-bucket");
        string limited = NewKey("limited-sliding");
        string counter = NewKey("limited-counter");
        RateLimitRule slidingLimit = RateLimitRule.SlidingWindow(1_000, TimeSpan.FromSeconds(10), 10);
        await store.AcquireAsync(new[] { new RateLimitRequest(bucket, s_slowBucket) }, Memory<RateLimitEntry>.Empty);

        // Act
        (RateLimitDecision denied, _) = await ReserveAsync(
            store, TimeSpan.FromSeconds(5), new RateLimitRequest(bucket, s_slowBucket), new RateLimitRequest(limited, slidingLimit), new RateLimitRequest(counter, s_slidingCounter));

        // Assert: its permit would count in the segment of now but be used in the next one.
        denied.IsAllowed.Should().BeFalse();
        denied.DeniedIndex.Should().Be(0);
        denied.RetryAfter.Should().Be(TimeSpan.FromSeconds(1));
        denied.DecidedAt.Should().Be(denied.Timestamp);
        (await PeekCountAsync(store, limited, slidingLimit)).Should().Be(0);
        (await PeekCountAsync(store, counter, s_slidingCounter)).Should().Be(0, "a denied reservation counts nothing");
    }
}
