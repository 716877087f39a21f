using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

// Several keys and rules in one call: all or nothing.
public abstract partial class RateLimitStoreContractTests
{
    [Fact]
    public async Task Acquire_OneKeyFull_TakesNothingFromAnyOtherKey()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule roomy = RateLimitRule.PerMinute(10);
        RateLimitRule tight = RateLimitRule.SlidingWindow(2, TimeSpan.FromMinutes(1), 6);
        string a = NewKey("a");
        string b = NewKey("b");
        string c = NewKey("c");
        await AcquireOneAsync(store, a, roomy, 1);
        await AcquireOneAsync(store, c, tight, 2);

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new(a, roomy, 1), new(b, roomy, 3), new(c, tight, 1));

        // Assert
        decision.Status.Should().Be(RateLimitStatus.LimitExceeded);
        decision.DeniedIndex.Should().Be(2);
        decision.RetryAfter.Should().Be(entries[2].RetryAfter);
        entries[0].Should().Be(new RateLimitEntry(true, 1, 10, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        entries[1].Should().Be(new RateLimitEntry(true, 0, 10, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        entries[2].IsAllowed.Should().BeFalse();
        entries[2].Count.Should().Be(2);
        (await CountAsync(store, a, roomy)).Should().Be(1);
        (await CountAsync(store, b, roomy)).Should().Be(0);
        (await CountAsync(store, c, tight)).Should().Be(2);
    }

    [Fact]
    public async Task Acquire_AllKeysFit_TakesFromEveryKey()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule fixedRule = RateLimitRule.PerMinute(10);
        RateLimitRule slidingRule = RateLimitRule.SlidingWindow(10, TimeSpan.FromMinutes(1), 6);
        string a = NewKey("a");
        string b = NewKey("b");

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new(a, fixedRule, 2), new(b, slidingRule, 3));

        // Assert
        decision.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
        entries[0].Count.Should().Be(2);
        entries[1].Count.Should().Be(3);
        (await CountAsync(store, a, fixedRule)).Should().Be(2);
        (await CountAsync(store, b, slidingRule)).Should().Be(3);
    }

    [Fact]
    public async Task Acquire_SeveralDenied_ReportsFirstDeniedIndexAndLongestRetryAfter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule minute = RateLimitRule.PerMinute(1);
        RateLimitRule hour = RateLimitRule.PerHour(1);
        string free = NewKey("free");
        string minuteKey = NewKey("minute");
        string hourKey = NewKey("hour");
        await AcquireOneAsync(store, minuteKey, minute);
        await AcquireOneAsync(store, hourKey, hour);

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new(free, minute), new(minuteKey, minute), new(hourKey, hour));

        // Assert
        TimeSpan toMinute = StartOfMinute.AddMinutes(1) - Start;
        TimeSpan toHour = new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero) - Start;
        decision.DeniedIndex.Should().Be(1);
        decision.RetryAfter.Should().Be(toHour);
        entries[0].IsAllowed.Should().BeTrue();
        entries[1].RetryAfter.Should().Be(toMinute);
        entries[2].RetryAfter.Should().Be(toHour);
    }

    [Fact]
    public async Task Acquire_HourlyAndDailyRulesOnSameKeys_BothLimit()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule hourly = RateLimitRule.PerHour(3);
        RateLimitRule daily = RateLimitRule.PerDay(5);
        string key = NewKey("tenant");
        DateTimeOffset nextHour = new(2026, 11, 23, 11, 0, 0, TimeSpan.Zero);
        DateTimeOffset midnight = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);
        RateLimitRequest[] both = [new(key, hourly), new(key, daily)];

        // Act
        bool[] firstHour = new bool[4];
        for (int i = 0; i < firstHour.Length; i++)
        {
            firstHour[i] = (await AcquireAsync(store, both)).Decision.IsAllowed;
        }

        (RateLimitDecision hourDenied, _) = await AcquireAsync(store, both);
        long dailyAfterFirstHour = await CountAsync(store, key, daily);
        time.SetUtcNow(nextHour);
        bool[] secondHour = new bool[2];
        for (int i = 0; i < secondHour.Length; i++)
        {
            secondHour[i] = (await AcquireAsync(store, both)).Decision.IsAllowed;
        }

        (RateLimitDecision dayDenied, RateLimitEntry[] dayDeniedEntries) = await AcquireAsync(store, both);

        // Assert
        firstHour.Should().Equal(true, true, true, false);
        hourDenied.DeniedIndex.Should().Be(0);
        hourDenied.RetryAfter.Should().Be(nextHour - Start);
        dailyAfterFirstHour.Should().Be(3);
        secondHour.Should().Equal(true, true);
        dayDenied.DeniedIndex.Should().Be(1);
        dayDenied.RetryAfter.Should().Be(midnight - nextHour);
        dayDeniedEntries[0].Should().Be(new RateLimitEntry(true, 2, 3, TimeSpan.Zero, nextHour.AddHours(1)));
        dayDeniedEntries[1].Should().Be(new RateLimitEntry(false, 5, 5, midnight - nextHour, midnight));
        (await CountAsync(store, key, hourly)).Should().Be(2);
    }

    [Fact]
    public async Task Acquire_ReducedLimitRule_SharesTheCounter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule normal = RateLimitRule.PerHour(10);
        RateLimitRule reduced = normal.WithLimit(3);
        string key = NewKey("flagged");
        await AcquireOneAsync(store, key, normal, 5);

        // Act
        (RateLimitDecision reducedPeek, RateLimitEntry reducedPeekEntry) = await PeekOneAsync(store, key, reduced, 0);
        (RateLimitDecision reducedAcquire, RateLimitEntry reducedEntry) = await AcquireOneAsync(store, key, reduced);
        (RateLimitDecision raisedAcquire, RateLimitEntry raisedEntry) = await AcquireOneAsync(store, key, normal.WithLimit(20));

        // Assert
        reducedPeek.IsAllowed.Should().BeFalse("5 already counted exceed a limit of 3 even with cost 0");
        reducedPeekEntry.Count.Should().Be(5);
        reducedPeekEntry.Limit.Should().Be(3);
        reducedPeekEntry.Remaining.Should().Be(0);
        reducedAcquire.IsAllowed.Should().BeFalse();
        reducedEntry.Count.Should().Be(5);
        raisedAcquire.IsAllowed.Should().BeTrue();
        raisedEntry.Count.Should().Be(6);
        (await CountAsync(store, key, normal)).Should().Be(6);
    }

    [Fact]
    public async Task Acquire_EmptyResultsBuffer_DecidesAndCounts()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(2);
        string key = NewKey("no-results");
        RateLimitRequest[] requests = [new(key, rule, 2)];

        // Act
        RateLimitDecision admitted = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
        RateLimitDecision denied = await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        // Assert
        admitted.IsAllowed.Should().BeTrue();
        denied.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, StartOfMinute.AddMinutes(1) - Start, Start));
        (await CountAsync(store, key, rule)).Should().Be(2);
    }

    [Fact]
    public async Task Acquire_NoRequests_IsAllowed()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);

        // Act
        RateLimitDecision decision = await store.AcquireAsync(ReadOnlyMemory<RateLimitRequest>.Empty, Memory<RateLimitEntry>.Empty);

        // Assert
        decision.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
    }

    [Fact]
    public async Task Acquire_LongerResultsBuffer_FillsOnlyOneEntryPerRequest()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(2);
        RateLimitEntry[] results = new RateLimitEntry[3];
        RateLimitEntry untouched = new(false, 42, 42, TimeSpan.FromDays(1), Start);
        results[2] = untouched;

        // Act
        RateLimitDecision decision = await store.AcquireAsync(new RateLimitRequest[] { new(NewKey("x"), rule), new(NewKey("y"), rule) }, results);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        results[0].Count.Should().Be(1);
        results[1].Count.Should().Be(1);
        results[2].Should().Be(untouched);
    }

    [Fact]
    public async Task Acquire_ManyRequestsUpToTheMaximum_AreAccepted()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(1000);
        string[] keys = Enumerable.Range(0, 16).Select(i => NewKey($"many{i}")).ToArray();
        RateLimitRequest[] requests = Enumerable.Range(0, RateLimitValidation.MaxRequestsPerCall)
            .Select(i => new RateLimitRequest(keys[i % keys.Length], rule))
            .ToArray();

        // Act
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, requests);

        // Assert
        decision.IsAllowed.Should().BeTrue();
        entries[^1].Count.Should().Be(RateLimitValidation.MaxRequestsPerCall / keys.Length);
        foreach (string key in keys)
        {
            (await CountAsync(store, key, rule)).Should().Be(RateLimitValidation.MaxRequestsPerCall / keys.Length);
        }
    }
}
