using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Fixed windows: aligned to the epoch, admitting exactly the limit.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Acquire_FixedWindow_AdmitsExactlyLimitThenDenies()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.FixedWindow(5, TimeSpan.FromMinutes(1));
        string key = NewKey("fixed");
        DateTimeOffset windowEnd = StartOfMinute.AddMinutes(1);

        // Act
        List<(RateLimitDecision Decision, RateLimitEntry Entry)> admitted = [];
        for (int i = 0; i < 5; i++)
        {
            admitted.Add(await AcquireOneAsync(store, key, rule));
        }

        (RateLimitDecision denied, RateLimitEntry deniedEntry) = await AcquireOneAsync(store, key, rule);

        // Assert
        for (int i = 0; i < 5; i++)
        {
            admitted[i].Decision.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
            admitted[i].Entry.Should().Be(new RateLimitEntry(true, i + 1, 5, TimeSpan.Zero, windowEnd));
            admitted[i].Entry.Remaining.Should().Be(5 - (i + 1));
        }

        TimeSpan retry = windowEnd - Start;
        retry.Should().Be(TimeSpan.FromMilliseconds(36_544));
        denied.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, retry, Start));
        denied.IsAllowed.Should().BeFalse();
        deniedEntry.Should().Be(new RateLimitEntry(false, 5, 5, retry, windowEnd));
        deniedEntry.Remaining.Should().Be(0);
    }

    [Fact]
    public async Task Acquire_FixedWindowAtRetryAfter_AdmitsInTheNextAlignedWindow()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.FixedWindow(2, TimeSpan.FromMinutes(1));
        string key = NewKey("fixed-next");
        await AcquireOneAsync(store, key, rule, 2);
        (RateLimitDecision denied, _) = await AcquireOneAsync(store, key, rule);

        // Act
        time.Advance(denied.RetryAfter - TimeSpan.FromMilliseconds(1));
        (RateLimitDecision stillDenied, RateLimitEntry stillDeniedEntry) = await AcquireOneAsync(store, key, rule);
        time.Advance(TimeSpan.FromMilliseconds(1));
        (RateLimitDecision next, RateLimitEntry nextEntry) = await AcquireOneAsync(store, key, rule);

        // Assert
        stillDenied.IsAllowed.Should().BeFalse();
        stillDenied.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(1));
        stillDeniedEntry.Count.Should().Be(2);
        next.IsAllowed.Should().BeTrue();
        next.Timestamp.Should().Be(StartOfMinute.AddMinutes(1));
        nextEntry.Should().Be(new RateLimitEntry(true, 1, 2, TimeSpan.Zero, StartOfMinute.AddMinutes(2)));
    }

    [Fact]
    public async Task Acquire_DailyRule_ResetsAtMidnightUtc()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerDay(2);
        string key = NewKey("daily");
        DateTimeOffset midnight = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
        (_, RateLimitEntry first) = await AcquireOneAsync(store, key, rule, 2);

        // Act
        (RateLimitDecision denied, _) = await AcquireOneAsync(store, key, rule);
        time.SetUtcNow(midnight.AddMilliseconds(-1));
        (RateLimitDecision beforeMidnight, _) = await AcquireOneAsync(store, key, rule);
        time.SetUtcNow(midnight);
        (RateLimitDecision afterMidnight, RateLimitEntry afterEntry) = await AcquireOneAsync(store, key, rule);

        // Assert
        first.ResetAt.Should().Be(midnight);
        denied.RetryAfter.Should().Be(midnight - Start);
        beforeMidnight.IsAllowed.Should().BeFalse();
        beforeMidnight.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(1));
        afterMidnight.IsAllowed.Should().BeTrue();
        afterEntry.Should().Be(new RateLimitEntry(true, 1, 2, TimeSpan.Zero, midnight.AddDays(1)));
    }

    [Fact]
    public async Task Acquire_HourlyRule_WindowEndsOnTheHour()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(1);
        string key = NewKey("hourly");
        DateTimeOffset endOfHour = new(2026, 11, 23, 11, 0, 0, TimeSpan.Zero);

        // Act
        (_, RateLimitEntry admitted) = await AcquireOneAsync(store, key, rule);
        (RateLimitDecision denied, RateLimitEntry deniedEntry) = await AcquireOneAsync(store, key, rule);

        // Assert
        admitted.ResetAt.Should().Be(endOfHour);
        denied.RetryAfter.Should().Be(endOfHour - Start);
        deniedEntry.Should().Be(new RateLimitEntry(false, 1, 1, endOfHour - Start, endOfHour));
    }
}
