using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Token buckets (GCRA): a burst at once, then one permit per emission interval; peek, refund and reset on one bucket.
public abstract partial class RateLimitStoreContractTests
{
    /// <summary>10 per second, burst 5: one permit every 100 ms.</summary>
    private static readonly RateLimitRule s_bucket = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 5);

    [Fact]
    public async Task Acquire_TokenBucket_AdmitsTheBurstThenOnePermitPerInterval()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket");

        // Act
        List<RateLimitEntry> burst = [];
        for (int i = 0; i < 5; i++)
        {
            burst.Add((await AcquireOneAsync(store, key, s_bucket)).Entry);
        }

        (RateLimitDecision denied, RateLimitEntry deniedEntry) = await AcquireOneAsync(store, key, s_bucket);
        time.Advance(TimeSpan.FromMilliseconds(99));
        (RateLimitDecision justBefore, RateLimitEntry justBeforeEntry) = await AcquireOneAsync(store, key, s_bucket);
        time.Advance(TimeSpan.FromMilliseconds(1));
        (RateLimitDecision refilled, RateLimitEntry refilledEntry) = await AcquireOneAsync(store, key, s_bucket);
        (RateLimitDecision emptyAgain, _) = await AcquireOneAsync(store, key, s_bucket);

        // Assert: each permit holds the bucket 100 ms longer; the reset is when it is full again.
        for (int i = 0; i < 5; i++)
        {
            burst[i].Should().Be(new RateLimitEntry(true, i + 1, 5, TimeSpan.Zero, Start.AddMilliseconds(100 * (i + 1))));
        }

        denied.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, TimeSpan.FromMilliseconds(100), Start));
        deniedEntry.Should().Be(new RateLimitEntry(false, 5, 5, TimeSpan.FromMilliseconds(100), Start.AddMilliseconds(500)));
        justBefore.IsAllowed.Should().BeFalse();
        justBefore.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(1));
        justBeforeEntry.Count.Should().Be(5);
        refilled.IsAllowed.Should().BeTrue();
        refilledEntry.Should().Be(new RateLimitEntry(true, 5, 5, TimeSpan.Zero, Start.AddMilliseconds(600)));
        emptyAgain.IsAllowed.Should().BeFalse();
        emptyAgain.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Acquire_TokenBucketRateNotDividingThePeriod_RoundsTheIntervalUpNeverRefillingFaster()
    {
        // Arrange: SES's 14 per second. 1 s / 14 = 71,428.57 µs, rounded up to 71,429 µs.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 14);
        string key = NewKey("bucket-ses");

        // Act
        (RateLimitDecision all, RateLimitEntry allEntry) = await AcquireOneAsync(store, key, rule, 14);
        (RateLimitDecision next, _) = await AcquireOneAsync(store, key, rule);
        time.Advance(TimeSpan.FromMilliseconds(71));
        (RateLimitDecision at71, _) = await AcquireOneAsync(store, key, rule);
        time.Advance(TimeSpan.FromMilliseconds(1));
        (RateLimitDecision at72, RateLimitEntry at72Entry) = await AcquireOneAsync(store, key, rule);

        // Assert
        rule.EmissionIntervalMicroseconds.Should().Be(71_429);
        all.IsAllowed.Should().BeTrue();
        allEntry.ResetAt.Should().Be(Start.AddMilliseconds(1001), "14 × 71,429 µs is 1,000.006 ms, rounded up");
        next.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(72));
        at71.IsAllowed.Should().BeFalse();
        at71.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(1));
        at72.IsAllowed.Should().BeTrue();
        at72Entry.Count.Should().Be(14);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(1_000_000)]
    [InlineData(RateLimitRule.MaxLimit)]
    public async Task Acquire_TokenBucketCostAboveBurst_NeverFitsAndTakesNothing(long cost)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-huge");

        // Act
        (RateLimitDecision huge, RateLimitEntry hugeEntry) = await AcquireOneAsync(store, key, s_bucket, cost);
        (RateLimitDecision burst, _) = await AcquireOneAsync(store, key, s_bucket, 5);

        // Assert
        huge.IsAllowed.Should().BeFalse();
        huge.RetryAfter.Should().Be(TimeSpan.MaxValue);
        hugeEntry.Should().Be(new RateLimitEntry(false, 0, 5, TimeSpan.MaxValue, Start));
        burst.IsAllowed.Should().BeTrue("a rejected cost must not move the bucket");
    }

    [Fact]
    public async Task Acquire_TokenBucketWithFullWindowRule_TakesNothingFromTheBucket()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("bucket-atomic");
        string window = NewKey("window-atomic");
        RateLimitRule hourly = RateLimitRule.PerHour(1);
        await AcquireOneAsync(store, window, hourly);

        // Act
        (RateLimitDecision denied, RateLimitEntry[] entries) = await AcquireAsync(store, new(bucket, s_bucket, 2), new(window, hourly, 1));
        (RateLimitDecision twice, RateLimitEntry[] twiceEntries) = await AcquireAsync(store, new(bucket, s_bucket, 2), new(bucket, s_bucket, 2));
        (RateLimitDecision over, RateLimitEntry[] overEntries) = await AcquireAsync(store, new(bucket, s_bucket, 1), new(bucket, s_bucket, 1));

        // Assert: costs on one bucket in one call add up, and the reset is the bucket's after the whole call.
        denied.IsAllowed.Should().BeFalse();
        denied.DeniedIndex.Should().Be(1);
        entries[0].Should().Be(new RateLimitEntry(true, 0, 5, TimeSpan.Zero, Start));
        twice.IsAllowed.Should().BeTrue();
        twiceEntries[0].Should().Be(new RateLimitEntry(true, 2, 5, TimeSpan.Zero, Start.AddMilliseconds(400)));
        twiceEntries[1].Should().Be(new RateLimitEntry(true, 4, 5, TimeSpan.Zero, Start.AddMilliseconds(400)));
        over.IsAllowed.Should().BeFalse();
        over.DeniedIndex.Should().Be(1);
        overEntries[1].Should().Be(new RateLimitEntry(false, 5, 5, TimeSpan.FromMilliseconds(100), Start.AddMilliseconds(400)));
    }

    [Fact]
    public async Task Peek_TokenBucket_ReadsWithoutTaking()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-peek");
        (RateLimitDecision _, RateLimitEntry empty) = await PeekOneAsync(store, key, s_bucket, 0);
        await AcquireOneAsync(store, key, s_bucket, 3);

        // Act
        (_, RateLimitEntry read) = await PeekOneAsync(store, key, s_bucket, 0);
        (RateLimitDecision tooMany, RateLimitEntry tooManyEntry) = await PeekOneAsync(store, key, s_bucket, 3);
        (RateLimitDecision fits, _) = await PeekOneAsync(store, key, s_bucket, 2);

        // Assert
        empty.Should().Be(new RateLimitEntry(true, 0, 5, TimeSpan.Zero, Start));
        read.Should().Be(new RateLimitEntry(true, 3, 5, TimeSpan.Zero, Start.AddMilliseconds(300)));
        tooMany.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, TimeSpan.FromMilliseconds(100), Start));
        tooManyEntry.Should().Be(new RateLimitEntry(false, 3, 5, TimeSpan.FromMilliseconds(100), Start.AddMilliseconds(300)));
        fits.IsAllowed.Should().BeTrue();
        (await CountAsync(store, key, s_bucket)).Should().Be(3);
    }

    [Fact]
    public async Task Refund_TokenBucket_MovesTheArrivalTimeBackNeverBeforeNowAndOnlyOnce()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-refund");
        (RateLimitDecision first, _) = await AcquireOneAsync(store, key, s_bucket, 2);
        (RateLimitDecision second, _) = await AcquireOneAsync(store, key, s_bucket, 2);
        time.Advance(TimeSpan.FromMilliseconds(50));

        // Act
        bool refunded = await RefundOneAsync(store, key, s_bucket, 2, first);
        long afterOne = await CountAsync(store, key, s_bucket);
        bool again = await RefundOneAsync(store, key, s_bucket, 2, first);
        long afterRepeat = await CountAsync(store, key, s_bucket);
        await RefundOneAsync(store, key, s_bucket, 2, second);
        long afterBoth = await CountAsync(store, key, s_bucket);
        (RateLimitDecision full, _) = await AcquireOneAsync(store, key, s_bucket, 5);

        // Assert: 400 ms ahead, 50 ms passed, 200 ms back: 150 ms ahead, 2 permits; then never behind now.
        refunded.Should().BeTrue();
        afterOne.Should().Be(2);
        again.Should().BeFalse();
        afterRepeat.Should().Be(2);
        afterBoth.Should().Be(0);
        full.IsAllowed.Should().BeTrue("a refund to before now must not bank permits beyond the burst");
        (await AcquireOneAsync(store, key, s_bucket)).Decision.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Refund_TokenBucketAfterTheBucketRefilled_GivesNothingBackFromLaterPermits()
    {
        // Arrange: the burst refills in 500 ms; the first acquire's permits have surely left by then.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-refund-late");
        (RateLimitDecision early, _) = await AcquireOneAsync(store, key, s_bucket, 5);
        time.Advance(TimeSpan.FromMilliseconds(600));
        await AcquireOneAsync(store, key, s_bucket, 5);

        // Act
        await RefundOneAsync(store, key, s_bucket, 5, early);

        // Assert
        (await CountAsync(store, key, s_bucket)).Should().Be(5);
    }

    [Fact]
    public async Task Reset_TokenBucket_FillsTheBucket()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-reset");
        await AcquireOneAsync(store, key, s_bucket, 5);

        // Act: a reduced rule of the same shape names the same bucket.
        await store.ResetAsync(key, s_bucket.WithLimit(2));

        // Assert
        (await CountAsync(store, key, s_bucket)).Should().Be(0);
        (await AcquireOneAsync(store, key, s_bucket, 5)).Decision.IsAllowed.Should().BeTrue();
    }
}
