namespace EmailGuard.Tests.Stores;

/// <summary>The in-memory store on the real system clock, which it reads through a per-tick cache.</summary>
public sealed class InMemoryRateLimitStoreClockTests
{
    [Fact]
    public async Task Acquire_SystemClock_TimestampsFollowTheWallClockAndNeverGoBackwards()
    {
        // Arrange
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        RateLimitRule rule = RateLimitRule.PerDay(RateLimitRule.MaxLimit);
        DateTimeOffset before = TimeProvider.System.GetUtcNow();
        DateTimeOffset previous = DateTimeOffset.MinValue;
        int backwards = 0;

        // Act
        for (int i = 0; i < 20_000; i++)
        {
            (RateLimitDecision decision, _) = await store.AcquireAsync("clock", rule);
            decision.IsAllowed.Should().BeTrue();
            backwards += decision.Timestamp < previous ? 1 : 0;
            previous = decision.Timestamp;
        }

        DateTimeOffset after = TimeProvider.System.GetUtcNow();

        // Assert: the cache may lag the wall clock by one OS tick (a few ms), never by more than a generous minute.
        backwards.Should().Be(0);
        previous.Should().BeOnOrAfter(before.AddMinutes(-1)).And.BeOnOrBefore(after);
    }

    [Fact]
    public void Acquire_SystemClockWithCallersTicks_TimestampsFollowTheWallClockAndNeverGoBackwards()
    {
        // Arrange: the send guard hands the store the tick it read for its key caches; a caller may be preempted
        // after reading it, so ticks arrive late and out of order.
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), TimeProvider.System);
        RateLimitRequest[] requests = [new("clock", RateLimitRule.PerDay(RateLimitRule.MaxLimit))];
        RateLimitEntry[] results = new RateLimitEntry[1];
        DateTimeOffset before = TimeProvider.System.GetUtcNow();
        DateTimeOffset previous = DateTimeOffset.MinValue;
        int backwards = 0;

        // Act
        for (int i = 0; i < 20_000; i++)
        {
            long tick = Environment.TickCount64 - (i % 3 == 0 ? 1_000 : 0);
            RateLimitDecision decision = store.Acquire(requests, results, tick);
            decision.IsAllowed.Should().BeTrue();
            backwards += decision.Timestamp < previous ? 1 : 0;
            previous = decision.Timestamp;
        }

        DateTimeOffset after = TimeProvider.System.GetUtcNow();

        // Assert
        backwards.Should().Be(0);
        previous.Should().BeOnOrAfter(before.AddMinutes(-1)).And.BeOnOrBefore(after);
    }
}
