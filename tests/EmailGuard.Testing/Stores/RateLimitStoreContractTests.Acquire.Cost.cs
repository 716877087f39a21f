using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Costs above one, and costs that can never fit.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Acquire_CostAboveOne_CountsTheWholeCost()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(10);
        string key = NewKey("cost");

        // Act
        (RateLimitDecision first, RateLimitEntry firstEntry) = await AcquireOneAsync(store, key, rule, 4);
        (RateLimitDecision second, RateLimitEntry secondEntry) = await AcquireOneAsync(store, key, rule, 4);
        (RateLimitDecision third, RateLimitEntry thirdEntry) = await AcquireOneAsync(store, key, rule, 4);
        (RateLimitDecision fourth, RateLimitEntry fourthEntry) = await AcquireOneAsync(store, key, rule, 2);

        // Assert
        first.IsAllowed.Should().BeTrue();
        firstEntry.Count.Should().Be(4);
        second.IsAllowed.Should().BeTrue();
        secondEntry.Count.Should().Be(8);
        third.IsAllowed.Should().BeFalse();
        thirdEntry.Should().Be(new RateLimitEntry(false, 8, 10, StartOfMinute.AddMinutes(1) - Start, StartOfMinute.AddMinutes(1)));
        fourth.IsAllowed.Should().BeTrue();
        fourthEntry.Count.Should().Be(10);
        fourthEntry.Remaining.Should().Be(0);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Acquire_CostAboveLimit_DeniesForeverAndTakesNothing(RateLimitAlgorithm algorithm)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = new(5, TimeSpan.FromMinutes(1), algorithm);
        RateLimitRule roomy = RateLimitRule.PerMinute(100);
        string key = NewKey("over");
        string other = NewKey("over-other");

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) =
            await AcquireAsync(store, new(other, roomy, 3), new(key, rule, 6));

        // Assert
        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(1);
        decision.RetryAfter.Should().Be(TimeSpan.MaxValue);
        entries[0].IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(0);
        entries[1].IsAllowed.Should().BeFalse();
        entries[1].Count.Should().Be(0);
        entries[1].RetryAfter.Should().Be(TimeSpan.MaxValue);
        (await CountAsync(store, key, rule)).Should().Be(0);
        (await CountAsync(store, other, roomy)).Should().Be(0);
    }

    [Fact]
    public async Task Acquire_SameKeyTwiceAboveLimitTogether_DeniesForeverAndTakesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(5);
        string key = NewKey("twice-over");

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new(key, rule, 3), new(key, rule, 3));

        // Assert: neither cost alone exceeds the limit, but together they never fit.
        decision.DeniedIndex.Should().Be(1);
        decision.RetryAfter.Should().Be(TimeSpan.MaxValue);
        entries[0].Should().Be(new RateLimitEntry(true, 0, 5, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        entries[1].Should().Be(new RateLimitEntry(false, 3, 5, TimeSpan.MaxValue, StartOfMinute.AddMinutes(1)));
        (await CountAsync(store, key, rule)).Should().Be(0);
    }

    [Fact]
    public async Task Acquire_SameKeyTwiceInOneCall_CostsAddUp()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(10);
        string key = NewKey("twice");
        await AcquireOneAsync(store, key, rule, 2);

        // Act
        (RateLimitDecision admitted, RateLimitEntry[] admittedEntries) = await AcquireAsync(store, new(key, rule, 3), new(key, rule, 4));
        (RateLimitDecision denied, RateLimitEntry[] deniedEntries) = await AcquireAsync(store, new(key, rule, 1), new(key, rule.WithLimit(20), 1), new(key, rule, 1));

        // Assert
        admitted.IsAllowed.Should().BeTrue();
        admittedEntries[0].Count.Should().Be(5);
        admittedEntries[1].Count.Should().Be(9);
        denied.DeniedIndex.Should().Be(2);
        deniedEntries[0].Should().Be(new RateLimitEntry(true, 9, 10, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        deniedEntries[1].Should().Be(new RateLimitEntry(true, 10, 20, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        deniedEntries[2].Should().Be(new RateLimitEntry(false, 11, 10, StartOfMinute.AddMinutes(1) - Start, StartOfMinute.AddMinutes(1)));
        (await CountAsync(store, key, rule)).Should().Be(9);
    }
}
