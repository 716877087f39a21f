using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// The behaviour every <see cref="IRateLimitStore"/> must have, run once per store. Expected values are computed by
/// hand from the formulas in DESIGN.md, so two stores that pass both agree with the specification, not just with each
/// other.
/// </summary>
/// <remarks>
/// Every test creates its own store through <see cref="CreateStore"/> and uses keys of its own, so a store that shares
/// state between instances (Redis) can run the suite without cleanup.
/// </remarks>
public abstract class RateLimitStoreContractTests
{
    /// <summary>
    /// The fake clock's start: deliberately not aligned to a second, minute, hour, day or segment, so a store that
    /// counts windows from its first request instead of from the epoch gets the wrong reset times.
    /// </summary>
    protected static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    private static readonly DateTimeOffset StartOfMinute = new(2026, 11, 23, 10, 17, 0, TimeSpan.Zero);

    /// <summary>Creates a fresh, empty store whose clock is <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock the store must read "now" from.</param>
    /// <returns>The store under test.</returns>
    protected abstract IRateLimitStore CreateStore(FakeTimeProvider timeProvider);

    // ---------------------------------------------------------------- fixed windows

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

    // ---------------------------------------------------------------- sliding windows

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

    // ---------------------------------------------------------------- costs

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

    // ---------------------------------------------------------------- several keys and rules

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

    // ---------------------------------------------------------------- peek, refund, reset

    [Fact]
    public async Task Peek_AnyCost_ConsumesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(3);
        string key = NewKey("peek");
        await AcquireOneAsync(store, key, rule, 2);

        // Act
        (RateLimitDecision fits, RateLimitEntry fitsEntry) = await PeekOneAsync(store, key, rule, 1);
        (RateLimitDecision fitsAgain, _) = await PeekOneAsync(store, key, rule, 1);
        (RateLimitDecision tooMuch, RateLimitEntry tooMuchEntry) = await PeekOneAsync(store, key, rule, 2);
        (RateLimitDecision tooMuchMulti, RateLimitEntry[] multiEntries) = await PeekAsync(store, new(key, rule, 1), new(key, rule, 1));

        // Assert
        fits.Should().Be(new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, Start));
        fitsEntry.Should().Be(new RateLimitEntry(true, 2, 3, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        fitsAgain.IsAllowed.Should().BeTrue();
        tooMuch.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, StartOfMinute.AddMinutes(1) - Start, Start));
        tooMuchEntry.Should().Be(new RateLimitEntry(false, 2, 3, StartOfMinute.AddMinutes(1) - Start, StartOfMinute.AddMinutes(1)));
        tooMuchMulti.DeniedIndex.Should().Be(1);
        multiEntries[1].Count.Should().Be(3);
        (await CountAsync(store, key, rule)).Should().Be(2);
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.FixedWindow)]
    [InlineData(RateLimitAlgorithm.SlidingWindow)]
    public async Task Refund_AdmittedAcquire_RestoresCountsExactly(RateLimitAlgorithm algorithm)
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = new(10, TimeSpan.FromMinutes(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
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
        await store.RefundAsync(new RateLimitRequest[] { new(key, rule, 3) }, second);
        long afterSecondRefund = await CountAsync(store, key, rule);
        await store.RefundAsync(new RateLimitRequest[] { new(key, rule, 4) }, first);
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
        await store.RefundAsync(new RateLimitRequest[] { new(key, rule, 5) }, admitted);
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
        RateLimitRule rule = new(5, TimeSpan.FromSeconds(6), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 3 : 0);
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
        RateLimitRule rule = new(3, TimeSpan.FromHours(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
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
        RateLimitRule rule = new(5, TimeSpan.FromHours(1), algorithm, algorithm == RateLimitAlgorithm.SlidingWindow ? 6 : 0);
        string key = NewKey("refund-reset");
        (RateLimitDecision beforeReset, _) = await AcquireOneAsync(store, key, rule, 3);
        time.Advance(TimeSpan.FromSeconds(1));
        await store.ResetAsync(key, rule);
        time.Advance(TimeSpan.FromSeconds(1));
        (RateLimitDecision afterReset, _) = await AcquireOneAsync(store, key, rule, 4);

        // Act
        await store.RefundAsync(new RateLimitRequest[] { new(key, rule, 3) }, beforeReset);
        long afterStaleRefund = await CountAsync(store, key, rule);
        bool refundedLater = await store.RefundAsync(new RateLimitRequest[] { new(key, rule, 4) }, afterReset);

        // Assert
        afterStaleRefund.Should().Be(4, "the permits of the reset counter are gone; they cannot come out of later ones");
        refundedLater.Should().BeTrue();
        (await CountAsync(store, key, rule)).Should().Be(0);
    }

    [Fact]
    public async Task Reset_OneKeyAndShape_ClearsOnlyThatCounter()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule hourly = RateLimitRule.PerHour(10);
        RateLimitRule daily = RateLimitRule.PerDay(10);
        RateLimitRule sliding = RateLimitRule.SlidingWindow(10, TimeSpan.FromHours(1), 6);
        string key = NewKey("reset");
        string other = NewKey("reset-other");
        await AcquireAsync(store, new(key, hourly, 4), new(key, daily, 5), new(key, sliding, 6), new(other, hourly, 7));

        // Act: a rule of the same shape with another limit names the same counter.
        await store.ResetAsync(key, hourly.WithLimit(99));

        // Assert
        (await CountAsync(store, key, hourly)).Should().Be(0);
        (await CountAsync(store, key, daily)).Should().Be(5);
        (await CountAsync(store, key, sliding)).Should().Be(6);
        (await CountAsync(store, other, hourly)).Should().Be(7);
        (await AcquireOneAsync(store, key, hourly, 10)).Decision.IsAllowed.Should().BeTrue();
    }

    [Fact]
    public async Task Reset_UnknownKey_DoesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(10);

        // Act
        Func<Task> act = async () => await store.ResetAsync(NewKey("never-used"), rule);

        // Assert
        await act.Should().NotThrowAsync();
    }

    // ---------------------------------------------------------------- bad input

    public static TheoryData<string?> BadKeys => new()
    {
        null,
        string.Empty,
        " ",
        "\t\r\n",
        new string('k', RateLimitRequest.MaxKeyLength + 1),
    };

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Acquire_BadKey_ThrowsNamingRequestsAndMovesNothing(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(badKey!, rule) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Peek_BadKey_ThrowsNamingRequests(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.PeekAsync(new RateLimitRequest[] { new(badKey!, rule, 0) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Refund_BadKey_ThrowsNamingRequestsAndMovesNothing(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.RefundAsync(new RateLimitRequest[] { new(witness, rule), new(badKey!, rule) }, default(RateLimitDecision));

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Reset_BadKey_ThrowsNamingKey(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.ResetAsync(badKey!, rule);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_KeyOfMaximumLength_IsAccepted()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(1);
        string key = NewKey("max");
        key += new string('k', RateLimitRequest.MaxKeyLength - key.Length);

        // Act
        (RateLimitDecision first, _) = await AcquireOneAsync(store, key, rule);
        (RateLimitDecision second, _) = await AcquireOneAsync(store, key, rule);

        // Assert
        first.IsAllowed.Should().BeTrue();
        second.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_NullRule_ThrowsNamingRequestsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(NewKey("null-rule"), null!) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Reset_NullRule_ThrowsNamingRule()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.ResetAsync(witness, null!);

        // Assert
        await act.Should().ThrowAsync<ArgumentNullException>().WithParameterName("rule");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    [InlineData(RateLimitRule.MaxLimit + 1)]
    public async Task Acquire_CostOutOfRange_ThrowsNamingRequestsAndMovesNothing(long cost)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule, cost) }, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Refund_CostBelowOne_ThrowsNamingRequestsAndMovesNothing(long cost)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> act = async () => await store.RefundAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule, cost) }, default(RateLimitDecision));

        // Assert
        await act.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Peek_CostZero_IsAcceptedButNegativeIsNot()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        (RateLimitDecision zero, RateLimitEntry zeroEntry) = await PeekOneAsync(store, witness, rule, 0);
        Func<Task> negative = async () => await store.PeekAsync(new RateLimitRequest[] { new(witness, rule, -1) }, Memory<RateLimitEntry>.Empty);

        // Assert
        zero.IsAllowed.Should().BeTrue();
        zeroEntry.Count.Should().Be(WitnessCount);
        await negative.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_ResultsBufferShorterThanRequests_ThrowsNamingResultsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule) }, new RateLimitEntry[1]);
        Func<Task> peek = async () => await store.PeekAsync(new RateLimitRequest[] { new(witness, rule), new(witness, rule) }, new RateLimitEntry[1]);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentException>().WithParameterName("results");
        await peek.Should().ThrowAsync<ArgumentException>().WithParameterName("results");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_MoreThanMaximumRequests_ThrowsNamingRequestsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        RateLimitRequest[] requests = Enumerable.Repeat(new RateLimitRequest(witness, rule), RateLimitValidation.MaxRequestsPerCall + 1).ToArray();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);

        // Assert
        await act.Should().ThrowAsync<ArgumentException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Acquire_CanceledToken_ThrowsAndMovesNothing()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        using CancellationTokenSource cts = new();
        await cts.CancelAsync();

        // Act
        Func<Task> act = async () => await store.AcquireAsync(new RateLimitRequest[] { new(witness, rule) }, Memory<RateLimitEntry>.Empty, cts.Token);

        // Assert
        await act.Should().ThrowAsync<OperationCanceledException>();
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    // ---------------------------------------------------------------- convenience extensions

    [Fact]
    public async Task Extensions_NullRequestList_ThrowArgumentNull()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        IReadOnlyList<RateLimitRequest> requests = null!;

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(requests, CancellationToken.None);
        Func<Task> peek = async () => await store.PeekAsync(requests, CancellationToken.None);
        Func<Task> refund = async () => await store.RefundAsync(requests, default(RateLimitDecision), CancellationToken.None);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await peek.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await refund.Should().ThrowAsync<ArgumentNullException>().WithParameterName("requests");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_NullStoreOrRule_ThrowArgumentNull()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();
        IRateLimitStore nullStore = null!;

        // Act
        Func<Task> noStore = async () => await nullStore.AcquireAsync(witness, rule);
        Func<Task> noStoreList = async () => await nullStore.AcquireAsync(new[] { new RateLimitRequest(witness, rule) }, CancellationToken.None);
        Func<Task> noRule = async () => await store.AcquireAsync(witness, null!);

        // Assert
        await noStore.Should().ThrowAsync<ArgumentNullException>().WithParameterName("store");
        await noStoreList.Should().ThrowAsync<ArgumentNullException>().WithParameterName("store");
        await noRule.Should().ThrowAsync<ArgumentNullException>().WithParameterName("rule");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public async Task Extensions_BadSingleKey_ThrowNamingKey(string? badKey)
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquire = async () => await store.AcquireAsync(badKey!, rule);
        Func<Task> peek = async () => await store.PeekAsync(badKey!, rule);

        // Assert
        await acquire.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await peek.Should().ThrowAsync<ArgumentException>().WithParameterName("key");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_SingleKeyCostOutOfRange_ThrowNamingCost()
    {
        // Arrange
        (IRateLimitStore store, string witness, RateLimitRule rule) = await CreateStoreWithWitnessAsync();

        // Act
        Func<Task> acquireZero = async () => await store.AcquireAsync(witness, rule, 0);
        Func<Task> peekNegative = async () => await store.PeekAsync(witness, rule, -1);

        // Assert
        await acquireZero.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("cost");
        await peekNegative.Should().ThrowAsync<ArgumentOutOfRangeException>().WithParameterName("cost");
        await AssertWitnessUntouchedAndStoreWorksAsync(store, witness, rule);
    }

    [Fact]
    public async Task Extensions_SingleKeyAndList_DecideLikeTheStore()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerMinute(3);
        string key = NewKey("ext");

        // Act
        (RateLimitDecision single, RateLimitEntry singleEntry) = await store.AcquireAsync(key, rule, 2);
        RateLimitDecision listDenied = await store.AcquireAsync(new List<RateLimitRequest> { new(key, rule, 2) }, CancellationToken.None);
        RateLimitDecision listPeek = await store.PeekAsync(new List<RateLimitRequest> { new(key, rule, 1) }, CancellationToken.None);
        await store.RefundAsync(new List<RateLimitRequest> { new(key, rule, 2) }, single, CancellationToken.None);
        (_, RateLimitEntry afterRefund) = await store.PeekAsync(key, rule);

        // Assert
        single.IsAllowed.Should().BeTrue();
        singleEntry.Should().Be(new RateLimitEntry(true, 2, 3, TimeSpan.Zero, StartOfMinute.AddMinutes(1)));
        listDenied.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, StartOfMinute.AddMinutes(1) - Start, Start));
        listPeek.IsAllowed.Should().BeTrue();
        afterRefund.Count.Should().Be(0);
    }

    // ---------------------------------------------------------------- the sliding guarantee

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

    // ---------------------------------------------------------------- helpers

    /// <summary>The count every witness key holds, see <see cref="CreateStoreWithWitnessAsync"/>.</summary>
    protected const long WitnessCount = 2;

    /// <summary>A key unique to this call, so tests never share counters even on a shared backend.</summary>
    /// <param name="name">A readable prefix.</param>
    /// <returns>The key.</returns>
    protected static string NewKey(string name) => $"{name}:{Guid.NewGuid():N}";

    /// <summary>Acquires on one key and returns the decision and its entry.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="cost">The cost.</param>
    /// <returns>The decision and the entry.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry Entry)> AcquireOneAsync(IRateLimitStore store, string key, RateLimitRule rule, long cost = 1)
    {
        (RateLimitDecision decision, RateLimitEntry[] entries) = await AcquireAsync(store, new RateLimitRequest(key, rule, cost));
        return (decision, entries[0]);
    }

    /// <summary>Peeks at one key and returns the decision and its entry.</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <param name="cost">The cost.</param>
    /// <returns>The decision and the entry.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry Entry)> PeekOneAsync(IRateLimitStore store, string key, RateLimitRule rule, long cost)
    {
        (RateLimitDecision decision, RateLimitEntry[] entries) = await PeekAsync(store, new RateLimitRequest(key, rule, cost));
        return (decision, entries[0]);
    }

    /// <summary>Acquires and returns the decision with one entry per request.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests.</param>
    /// <returns>The decision and the entries.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> AcquireAsync(IRateLimitStore store, params RateLimitRequest[] requests)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.AcquireAsync(requests, entries);
        return (decision, entries);
    }

    /// <summary>Peeks and returns the decision with one entry per request.</summary>
    /// <param name="store">The store.</param>
    /// <param name="requests">The requests.</param>
    /// <returns>The decision and the entries.</returns>
    protected static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> PeekAsync(IRateLimitStore store, params RateLimitRequest[] requests)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.PeekAsync(requests, entries);
        return (decision, entries);
    }

    /// <summary>Reads a counter without moving it (a peek of cost 0).</summary>
    /// <param name="store">The store.</param>
    /// <param name="key">The key.</param>
    /// <param name="rule">The rule.</param>
    /// <returns>The permits counted now.</returns>
    protected static async Task<long> CountAsync(IRateLimitStore store, string key, RateLimitRule rule)
        => (await PeekOneAsync(store, key, rule, 0)).Entry.Count;

    private async Task<(IRateLimitStore Store, string Witness, RateLimitRule Rule)> CreateStoreWithWitnessAsync()
    {
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RateLimitRule rule = RateLimitRule.PerHour(100);
        string witness = NewKey("witness");
        (await AcquireOneAsync(store, witness, rule, WitnessCount)).Decision.IsAllowed.Should().BeTrue();
        return (store, witness, rule);
    }

    private static async Task AssertWitnessUntouchedAndStoreWorksAsync(IRateLimitStore store, string witness, RateLimitRule rule)
    {
        (await CountAsync(store, witness, rule)).Should().Be(WitnessCount, "a rejected call must not move any counter");
        (RateLimitDecision decision, RateLimitEntry entry) = await AcquireOneAsync(store, witness, rule);
        decision.IsAllowed.Should().BeTrue("the store must keep working after rejecting bad input");
        entry.Count.Should().Be(WitnessCount + 1);
    }
}
