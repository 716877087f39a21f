using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Refunds give back exactly once, and never what a reset or an earlier window already cleared.
public abstract partial class RateLimitStoreContractTests
{
    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Refund_AdmittedAcquire_RestoresCountsExactly(RateLimitAlgorithm algorithm)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RuleOf(algorithm, 10, TimeSpan.FromMinutes(1), slidingSegments: 6);
        string a = NewKey("refund-a");
        string b = NewKey("refund-b");
        await AcquireOneAsync(store, a, rule, 1);
        RateLimitRequest[] requests = [new(a, rule, 3), new(b, rule, 2)];
        (RateLimitDecision admitted, _) = await AcquireAsync(store, requests);
        time.Advance(TimeSpan.FromSeconds(2));

        // Act
        await store.RefundAsync(requests, admitted);

        // Assert
        admitted.IsAllowed.Should().BeTrue();
        (await CountAsync(store, a, rule)).Should().Be(1);
        (await CountAsync(store, b, rule)).Should().Be(0);
        (await AcquireOneAsync(store, a, rule, 9)).Decision.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Refund_SlidingWindow_GivesBackToTheSegmentOfTheAcquire()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);
        string key = NewKey("refund-segment");
        (RateLimitDecision first, _) = await AcquireOneAsync(store, key, rule, 4);
        time.Advance(TimeSpan.FromSeconds(10));
        (RateLimitDecision second, _) = await AcquireOneAsync(store, key, rule, 3);

        // Act
        await RefundOneAsync(store, key, rule, 3, second);
        long afterSecondRefund = await CountAsync(store, key, rule);
        await RefundOneAsync(store, key, rule, 4, first);
        long afterFirstRefund = await CountAsync(store, key, rule);

        // Assert
        afterSecondRefund.Should().Be(4);
        afterFirstRefund.Should().Be(0);
    }

    [Fact]
    public async Task Refund_MoreThanCounted_StopsAtZero()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(5);
        string key = NewKey("refund-floor");
        (RateLimitDecision admitted, _) = await AcquireOneAsync(store, key, rule, 2);

        // Act
        await RefundOneAsync(store, key, rule, 5, admitted);
        (RateLimitDecision full, _) = await AcquireOneAsync(store, key, rule, 5);
        (RateLimitDecision over, _) = await AcquireOneAsync(store, key, rule, 1);

        // Assert: no negative credit that would admit more than the limit.
        full.IsAllowed.Should().BeTrue();
        over.IsAllowed.Should().BeFalse();
        (await CountAsync(store, key, rule)).Should().Be(5);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Refund_AfterItsWindowPassed_ChangesNothing(RateLimitAlgorithm algorithm)
    {
        // Arrange: 6 s windows; a sliding one in 3 segments of 2 s has a ring of 4 slots that comes round after 8 s.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RuleOf(algorithm, 5, TimeSpan.FromSeconds(6), slidingSegments: 3);
        string key = NewKey("refund-late");
        RateLimitRequest[] requests = [new(key, rule, 3)];
        (RateLimitDecision old, _) = await AcquireOneAsync(store, key, rule, 3);
        time.Advance(TimeSpan.FromSeconds(8));
        await AcquireOneAsync(store, key, rule, 2);

        // Act
        await store.RefundAsync(requests, old);

        // Assert
        (await CountAsync(store, key, rule)).Should().Be(2);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Refund_SameDecisionTwiceAndACopy_GivesBackOnce(RateLimitAlgorithm algorithm)
    {
        // Arrange: an attacker's loop refunds one admitted decision again and again, through copies of the value.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RuleOf(algorithm, 3, TimeSpan.FromHours(1), slidingSegments: 6);
        string key = NewKey("refund-once");
        RateLimitRequest[] requests = [new(key, rule)];
        (RateLimitDecision first, _) = await AcquireOneAsync(store, key, rule);
        await AcquireOneAsync(store, key, rule);
        await AcquireOneAsync(store, key, rule);
        RateLimitDecision copy = first;

        // Act
        bool once = await store.RefundAsync(requests, first);
        bool twice = await store.RefundAsync(requests, first);
        bool viaCopy = await store.RefundAsync(requests, copy);
        bool viaRebuiltCopy = await store.RefundAsync(requests, new RateLimitDecision(first.Status, first.DeniedIndex, first.RetryAfter, first.Timestamp, first.AcquisitionId));
        long afterRefunds = await CountAsync(store, key, rule);
        (RateLimitDecision fits, _) = await AcquireOneAsync(store, key, rule);
        (RateLimitDecision over, _) = await AcquireOneAsync(store, key, rule);

        // Assert
        first.IsRefundable.Should().BeTrue();
        (once, twice, viaCopy, viaRebuiltCopy).Should().Be((true, false, false, false));
        afterRefunds.Should().Be(2, "three admitted, one refunded once");
        fits.IsAllowed.Should().BeTrue();
        over.IsAllowed.Should().BeFalse("exactly one permit came back, however often it was asked for");
        (await CountAsync(store, key, rule)).Should().Be(3);
    }

    [Fact]
    public async Task Refund_EachOfTwoAcquires_GivesBackBoth()
    {
        // Arrange: at-most-once is per acquire, not per key or per time.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(5);
        string key = NewKey("refund-each");
        RateLimitRequest[] requests = [new(key, rule, 2)];
        (RateLimitDecision a, _) = await AcquireOneAsync(store, key, rule, 2);
        (RateLimitDecision b, _) = await AcquireOneAsync(store, key, rule, 2);

        // Act
        bool refundedA = await store.RefundAsync(requests, a);
        bool refundedB = await store.RefundAsync(requests, b);

        // Assert
        a.AcquisitionId.Should().NotBe(b.AcquisitionId);
        (refundedA, refundedB).Should().Be((true, true));
        (await CountAsync(store, key, rule)).Should().Be(0);
    }

    [Fact]
    public async Task Refund_OfAPeekADenialOrTheDefault_GivesNothingBack()
    {
        // Arrange: an allowed peek took nothing; refunding it would hand out permits nobody returned.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(3);
        string key = NewKey("refund-peek");
        RateLimitRequest[] requests = [new(key, rule)];
        await AcquireOneAsync(store, key, rule, 2);
        (RateLimitDecision peek, _) = await PeekOneAsync(store, key, rule, 1);
        (RateLimitDecision taken, _) = await AcquireOneAsync(store, key, rule);
        (RateLimitDecision denied, _) = await AcquireOneAsync(store, key, rule);

        // Act
        bool[] refunded =
        [
            await store.RefundAsync(requests, peek),
            await store.RefundAsync(requests, peek),
            await store.RefundAsync(requests, denied),
            await store.RefundAsync(requests, default(RateLimitDecision)),
            await store.RefundAsync(requests, new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, taken.Timestamp)),
        ];

        // Assert
        peek.IsAllowed.Should().BeTrue();
        peek.IsRefundable.Should().BeFalse();
        peek.AcquisitionId.Should().Be(0);
        denied.IsRefundable.Should().BeFalse();
        refunded.Should().AllBeEquivalentTo(false);
        (await CountAsync(store, key, rule)).Should().Be(3);
        (await AcquireOneAsync(store, key, rule)).Decision.IsAllowed.Should().BeFalse();
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Refund_AfterTheCounterWasReset_ChangesNothing_ButLaterAcquiresStillRefund(RateLimitAlgorithm algorithm)
    {
        // Arrange: 3 taken, the counter reset, 4 taken after the reset in the same window.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RuleOf(algorithm, 5, TimeSpan.FromHours(1), slidingSegments: 6);
        string key = NewKey("refund-reset");
        (RateLimitDecision beforeReset, _) = await AcquireOneAsync(store, key, rule, 3);
        time.Advance(TimeSpan.FromSeconds(1));
        await store.ResetAsync(key, rule);
        time.Advance(TimeSpan.FromSeconds(1));
        (RateLimitDecision afterReset, _) = await AcquireOneAsync(store, key, rule, 4);

        // Act
        await RefundOneAsync(store, key, rule, 3, beforeReset);
        long afterStaleRefund = await CountAsync(store, key, rule);
        bool refundedLater = await RefundOneAsync(store, key, rule, 4, afterReset);

        // Assert
        afterStaleRefund.Should().Be(4, "the permits of the reset counter are gone; they cannot come out of later ones");
        refundedLater.Should().BeTrue();
        (await CountAsync(store, key, rule)).Should().Be(0);
    }
}
