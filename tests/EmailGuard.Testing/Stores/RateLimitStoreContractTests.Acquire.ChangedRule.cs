using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// A rule changed under a live counter (a reload, a tenant override, a provider answer): a new rule object of the same
// window and algorithm, not a reduced one (WithLimit). A window rule keeps its counter; a token bucket keeps its
// spent permits, converted to its new interval.
public abstract partial class RateLimitStoreContractTests
{
    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Acquire_WindowRuleOfAnotherLimit_KeepsTheCounter(RateLimitAlgorithm algorithm)
    {
        // Arrange: 8 of 10 taken this hour.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("changed-window-limit");
        await AcquireOneAsync(store, key, new RateLimitRule(10, TimeSpan.FromHours(1), algorithm), 8);

        // Act
        (RateLimitDecision lowered, RateLimitEntry loweredEntry) = await AcquireOneAsync(store, key, new RateLimitRule(5, TimeSpan.FromHours(1), algorithm));
        (RateLimitDecision raised, RateLimitEntry raisedEntry) = await AcquireOneAsync(store, key, new RateLimitRule(20, TimeSpan.FromHours(1), algorithm));

        // Assert
        lowered.IsAllowed.Should().BeFalse("the 8 taken count against the new limit of 5");
        loweredEntry.Count.Should().Be(8);
        raised.IsAllowed.Should().BeTrue();
        raisedEntry.Count.Should().Be(9);
    }

    [Fact]
    public async Task Acquire_TokenBucketLimitLowered_KeepsTheSpentPermits()
    {
        // Arrange: 10 per minute (one every 6 s), 6 spent.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-lowered");
        await AcquireOneAsync(store, key, new RateLimitRule(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket), 6);
        RateLimitRule lowered = new(5, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);

        // Act: lowered to 5 per minute (one every 12 s).
        (RateLimitDecision denied, RateLimitEntry deniedEntry) = await AcquireOneAsync(store, key, lowered);
        time.Advance(TimeSpan.FromMilliseconds(11_999));
        (RateLimitDecision justBefore, _) = await AcquireOneAsync(store, key, lowered);
        time.Advance(TimeSpan.FromMilliseconds(1));
        (RateLimitDecision refilled, _) = await AcquireOneAsync(store, key, lowered);
        (RateLimitDecision emptyAgain, _) = await AcquireOneAsync(store, key, lowered);

        // Assert: the 6 spent stay spent, as many as the bucket of 5 holds, and come back one every 12 s.
        denied.IsAllowed.Should().BeFalse("a fresh bucket would have handed out 5 more at once");
        denied.RetryAfter.Should().Be(TimeSpan.FromSeconds(12));
        deniedEntry.Should().Be(new RateLimitEntry(false, 5, 5, TimeSpan.FromSeconds(12), Start.AddMinutes(1)));
        justBefore.IsAllowed.Should().BeFalse();
        refilled.IsAllowed.Should().BeTrue();
        emptyAgain.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_TokenBucketRaised_RefillsTheSpentPermitsAtTheNewRate()
    {
        // Arrange: 10 per minute, all 10 spent.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-raised");
        await AcquireOneAsync(store, key, new RateLimitRule(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket), 10);
        RateLimitRule raised = new(20, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);

        // Act: raised to 20 per minute (one every 3 s).
        (RateLimitDecision peek, RateLimitEntry peekEntry) = await PeekOneAsync(store, key, raised, 0);
        (RateLimitDecision ten, RateLimitEntry tenEntry) = await AcquireOneAsync(store, key, raised, 10);
        (RateLimitDecision eleventh, _) = await AcquireOneAsync(store, key, raised);
        time.Advance(TimeSpan.FromSeconds(3));
        (RateLimitDecision afterOneInterval, _) = await AcquireOneAsync(store, key, raised);

        // Assert
        peek.IsAllowed.Should().BeTrue();
        peekEntry.Count.Should().Be(10, "the 10 spent stay spent in the bigger bucket");
        ten.IsAllowed.Should().BeTrue("the raised bucket has room for 10 more at once");
        tenEntry.ResetAt.Should().Be(Start.AddMinutes(1), "20 spent at 3 s each");
        eleventh.IsAllowed.Should().BeFalse();
        eleventh.RetryAfter.Should().Be(TimeSpan.FromSeconds(3), "the spent permits come back at the new rate");
        afterOneInterval.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Acquire_TokenBucketLoweredThenRestored_HoldsWhatWasSpentUnderBoth()
    {
        // Arrange: 10 per minute, 3 spent.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-flip");
        RateLimitRule rule = new(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);
        RateLimitRule lowered = new(5, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);
        await AcquireOneAsync(store, key, rule, 3);

        // Act: lowered to 5, which has room for 2 more, then restored to 10.
        long underLowered = await AdmittedNowAsync(store, key, lowered);
        (_, RateLimitEntry restored) = await PeekOneAsync(store, key, new RateLimitRule(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket), 0);
        long underRestored = await AdmittedNowAsync(store, key, rule);

        // Assert: the 5 taken in all stay spent; switching back and forth hands out nothing extra.
        underLowered.Should().Be(2);
        restored.Count.Should().Be(5);
        underRestored.Should().Be(5);
    }

    /// <summary>
    /// The invariant of a lowered bucket: right after the change it admits no more than a bucket configured so from
    /// the start that was offered the same sends (here all at the change's instant) would.
    /// </summary>
    [Theory]
    [InlineData(10, 10, 6, 5, 5)]
    [InlineData(10, 10, 6, 5, 10)]
    [InlineData(10, 10, 3, 5, 5)]
    [InlineData(10, 10, 10, 1, 1)]
    [InlineData(14, 28, 20, 7, 7)]
    [InlineData(10, 20, 15, 10, 5)]
    [InlineData(100, 100, 1, 3, 3)]
    public async Task Acquire_TokenBucketLowered_AdmitsNoMoreThanOneConfiguredSoFromTheStart(long rate, long burst, long spent, long newRate, long newBurst)
    {
        // Arrange: the same sends offered to a bucket that is then lowered, and to one that had the lowered rule all along.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule before = RateLimitRule.TokenBucket(rate, TimeSpan.FromMinutes(1), burst);
        RateLimitRule after = RateLimitRule.TokenBucket(newRate, TimeSpan.FromMinutes(1), newBurst);
        string changed = NewKey("bucket-changed");
        string fromStart = NewKey("bucket-from-start");
        for (long i = 0; i < spent; i++)
        {
            await AcquireOneAsync(store, changed, before);
            await AcquireOneAsync(store, fromStart, after);
        }

        // Act: take one at a time under the lowered rule until denied, on both buckets.
        long changedAdmits = await AdmittedNowAsync(store, changed, after);
        long fromStartAdmits = await AdmittedNowAsync(store, fromStart, after);

        // Assert
        changedAdmits.Should().BeLessThanOrEqualTo(fromStartAdmits);
        changedAdmits.Should().Be(Math.Max(0, newBurst - spent), "the spent permits stay spent, up to the new burst");
    }

    [Fact]
    public async Task Refund_AfterTheTokenBucketChanged_GivesNothingBack()
    {
        // Arrange: 4 spent under 10 per minute, then one admitted under 20 per minute.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("bucket-refund-changed");
        RateLimitRule before = new(10, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);
        RateLimitRule after = new(20, TimeSpan.FromMinutes(1), RateLimitAlgorithm.TokenBucket);
        (RateLimitDecision admitted, _) = await AcquireOneAsync(store, key, before, 4);
        await AcquireOneAsync(store, key, after);

        // Act: the first acquire refunded under its own rule.
        await RefundOneAsync(store, key, before, 4, admitted);

        // Assert: its permits were converted since; a lost refund only makes the limit stricter.
        (await CountAsync(store, key, after)).Should().Be(5);
    }

    private static async Task<long> AdmittedNowAsync(IRateLimitStore store, string key, RateLimitRule rule)
    {
        long admitted = 0;
        while ((await AcquireOneAsync(store, key, rule)).Decision.IsAllowed)
        {
            admitted++;
        }

        return admitted;
    }
}
