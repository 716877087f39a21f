using EmailGuard.Testing.Time;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// Reservations (<see cref="IRateLimitStore.ReserveAsync"/>), run once per store that reserves ahead: the earliest
/// time every rule has room, held atomically, cancellable, and never letting a rule be exceeded when every
/// reservation is used at its time.
/// </summary>
public abstract partial class ReservationContractTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    /// <summary>10 per second, burst 5: one permit every 100 ms.</summary>
    private static readonly RateLimitRule s_bucket = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 5);

    /// <summary>Creates a fresh, empty store whose clock is <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>The store under test.</returns>
    protected abstract IRateLimitStore CreateStore(FakeTimeProvider timeProvider);

    [Fact]
    public async Task Reserve_TokenBucket_ReturnsTheEarliestTimeAndHoldsIt()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("reserve");
        List<DateTimeOffset> times = [];

        // Act
        for (int i = 0; i < 7; i++)
        {
            times.Add((await ReserveAsync(store, TimeSpan.FromSeconds(1), new RateLimitRequest(key, s_bucket))).Decision.Timestamp);
        }

        (RateLimitDecision sixth, RateLimitEntry[] sixthEntries) = await ReserveAsync(store, TimeSpan.FromSeconds(1), new RateLimitRequest(key, s_bucket, 2));
        RateLimitEntry[] entry = new RateLimitEntry[1];
        RateLimitDecision acquire = await store.AcquireAsync(new[] { new RateLimitRequest(key, s_bucket) }, entry);

        // Assert: the burst now, then one every 100 ms; a cost of 2 waits for two permits.
        times.Should().Equal(Start, Start, Start, Start, Start, Start.AddMilliseconds(100), Start.AddMilliseconds(200));
        sixth.IsAllowed.Should().BeTrue();
        sixth.IsRefundable.Should().BeTrue();
        sixth.Timestamp.Should().Be(Start.AddMilliseconds(400));
        sixthEntries[0].Should().Be(new RateLimitEntry(true, 5, 5, TimeSpan.Zero, Start.AddMilliseconds(900)));
        acquire.IsAllowed.Should().BeFalse("the reserved permits are held");
        acquire.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task Reserve_BeyondTheMaximumWait_IsDeniedAsAnAcquireAndTakesNothing()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("reserve-far");
        await store.AcquireAsync(new[] { new RateLimitRequest(key, s_bucket, 5) }, Memory<RateLimitEntry>.Empty);

        // Act
        (RateLimitDecision tooFar, _) = await ReserveAsync(store, TimeSpan.FromMilliseconds(99), new RateLimitRequest(key, s_bucket));
        (RateLimitDecision never, _) = await ReserveAsync(store, RateLimitRule.MaxWindow, new RateLimitRequest(key, s_bucket, 6));
        (RateLimitDecision justInTime, _) = await ReserveAsync(store, TimeSpan.FromMilliseconds(100), new RateLimitRequest(key, s_bucket));

        // Assert
        tooFar.Should().Be(new RateLimitDecision(RateLimitStatus.LimitExceeded, 0, TimeSpan.FromMilliseconds(100), Start));
        never.IsAllowed.Should().BeFalse();
        never.RetryAfter.Should().Be(TimeSpan.MaxValue);
        justInTime.Timestamp.Should().Be(Start.AddMilliseconds(100), "the denials took nothing");
    }

    [Fact]
    public async Task Reserve_WindowRuleWithRoom_TakesPartAndAFullOneDenies()
    {
        // Arrange: the bucket is empty, so the reservation is 100 ms ahead, inside the hour.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("reserve-bucket");
        string hourly = NewKey("reserve-hourly");
        string full = NewKey("reserve-full");
        RateLimitRule perHour = RateLimitRule.PerHour(3);
        RateLimitRule sliding = RateLimitRule.SlidingWindow(1, TimeSpan.FromHours(1), 6);
        await store.AcquireAsync(new[] { new RateLimitRequest(bucket, s_bucket, 5), new RateLimitRequest(full, sliding) }, Memory<RateLimitEntry>.Empty);

        // Act
        (RateLimitDecision reserved, RateLimitEntry[] entries) = await ReserveAsync(
            store, TimeSpan.FromSeconds(1), new RateLimitRequest(bucket, s_bucket), new RateLimitRequest(hourly, perHour));
        (RateLimitDecision denied, _) = await ReserveAsync(
            store, TimeSpan.FromDays(1), new RateLimitRequest(bucket, s_bucket), new RateLimitRequest(full, sliding));

        // Assert
        reserved.Timestamp.Should().Be(Start.AddMilliseconds(100));
        entries[1].Should().Be(new RateLimitEntry(true, 1, 3, TimeSpan.Zero, new DateTimeOffset(2026, 11, 23, 11, 0, 0, TimeSpan.Zero)));
        denied.IsAllowed.Should().BeFalse("a full window cannot promise a later time");
        denied.DeniedIndex.Should().Be(0);
        (await PeekCountAsync(store, bucket, s_bucket)).Should().Be(6, "the burst and the first reservation: the denial took nothing");
    }

    [Fact]
    public async Task Reserve_TimeInTheNextFixedWindow_IsDenied()
    {
        // Arrange: one permit a second; the one-second window of Start ends in 544 ms, before the bucket refills.
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string bucket = NewKey("reserve-boundary");
        string window = NewKey("reserve-window");
        RateLimitRule slow = RateLimitRule.TokenBucket(1, TimeSpan.FromSeconds(1), 1);
        RateLimitRule perSecond = RateLimitRule.FixedWindow(10, TimeSpan.FromSeconds(1));
        await store.AcquireAsync(new[] { new RateLimitRequest(bucket, slow) }, Memory<RateLimitEntry>.Empty);

        // Act
        (RateLimitDecision denied, _) = await ReserveAsync(store, TimeSpan.FromSeconds(5), new RateLimitRequest(bucket, slow), new RateLimitRequest(window, perSecond));
        (RateLimitDecision alone, _) = await ReserveAsync(store, TimeSpan.FromSeconds(5), new RateLimitRequest(bucket, slow));

        // Assert: the window's permit would count in the window of now but be used in the next one.
        denied.IsAllowed.Should().BeFalse();
        denied.RetryAfter.Should().Be(TimeSpan.FromSeconds(1));
        (await PeekCountAsync(store, window, perSecond)).Should().Be(0);
        alone.Timestamp.Should().Be(Start.AddSeconds(1));
    }

    [Fact]
    public async Task Cancel_LastReservation_FreesItsSlotButAnEarlierOneKeepsLaterPromises()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        string key = NewKey("reserve-cancel");
        RateLimitRequest[] one = [new(key, s_bucket)];
        await store.AcquireAsync(new[] { new RateLimitRequest(key, s_bucket, 5) }, Memory<RateLimitEntry>.Empty);
        RateLimitDecision at100 = await store.ReserveAsync(one, TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);
        RateLimitDecision at200 = await store.ReserveAsync(one, TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);

        // Act
        bool cancelledLast = await store.RefundAsync(one, at200);
        RateLimitDecision again = await store.ReserveAsync(one, TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);
        await store.RefundAsync(one, at100);
        RateLimitDecision after = await store.ReserveAsync(one, TimeSpan.FromSeconds(1), Memory<RateLimitEntry>.Empty);

        // Assert
        at100.Timestamp.Should().Be(Start.AddMilliseconds(100));
        at200.Timestamp.Should().Be(Start.AddMilliseconds(200));
        cancelledLast.Should().BeTrue();
        again.Timestamp.Should().Be(Start.AddMilliseconds(200), "cancelling the last reservation gives its slot back");
        after.Timestamp.Should().Be(
            Start.AddMilliseconds(300), "a reservation is already promised the slot after the cancelled one, so the bucket cannot move back");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Reserve_RandomReservationsAndCancellations_NeverExceedTheRulesWhenAllAreUsed(int seed)
    {
        // Arrange: 14 per second with a burst of 4, and 40 per fixed 10 s; reservations up to 2 s ahead.
        Random random = new(seed);
        FakeTimeProvider time = new(Start);
        IRateLimitStore store = CreateStore(time);
        RealTimePacer pacer = new(time);
        RateLimitRule bucket = RateLimitRule.TokenBucket(14, TimeSpan.FromSeconds(1), 4);
        RateLimitRule window = RateLimitRule.FixedWindow(40, TimeSpan.FromSeconds(10));
        string bucketKey = NewKey("property-bucket");
        string windowKey = NewKey("property-window");
        List<(RateLimitRequest[] Requests, RateLimitDecision Decision)> live = [];
        int reserved = 0;
        int denied = 0;

        // Act
        for (int op = 0; op < 1_200; op++)
        {
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 5) == 0 ? random.Next(0, 900) : random.Next(0, 30)));
            pacer.KeepUp();
            if (live.Count > 0 && random.Next(6) == 0)
            {
                int pick = random.Next(live.Count);
                if (await store.RefundAsync(live[pick].Requests, live[pick].Decision))
                {
                    live.RemoveAt(pick);
                }

                continue;
            }

            long cost = random.Next(1, 4);
            RateLimitRequest[] requests = random.Next(3) == 0
                ? [new(bucketKey, bucket, cost)]
                : [new(bucketKey, bucket, cost), new(windowKey, window, cost)];
            RateLimitDecision decision = await store.ReserveAsync(requests, TimeSpan.FromSeconds(2), Memory<RateLimitEntry>.Empty);
            if (decision.IsAllowed)
            {
                reserved++;
                decision.Timestamp.Should().BeOnOrAfter(time.GetUtcNow()).And.BeOnOrBefore(time.GetUtcNow().AddSeconds(2));
                live.Add((requests, decision));
            }
            else
            {
                denied++;
            }
        }

        // Assert: every reservation not cancelled is used at its time. A cancelled one may still count (its slot
        // stays taken when later ones are queued behind it), so the check over the used ones alone is the strict one.
        reserved.Should().BeGreaterThan(200);
        denied.Should().BeGreaterThan(50);
        List<(long AtMs, long Cost)> sends = [.. live.Select(l => (l.Decision.Timestamp.ToUnixTimeMilliseconds(), l.Requests[0].Cost)).OrderBy(s => s.Item1)];
        string? violation = null;
        for (int left = 0; left < sends.Count && violation is null; left++)
        {
            long sum = 0;
            for (int right = left; right < sends.Count; right++)
            {
                sum += sends[right].Cost;
                long t = sends[right].AtMs - sends[left].AtMs;
                if (sum * 1000 > (4 * 1000) + (14 * t))
                {
                    violation = $"sends {left}..{right} over {t} ms took {sum} permits of the bucket";
                    break;
                }
            }
        }

        violation.Should().BeNull();
        live.Where(l => l.Requests.Length == 2)
            .GroupBy(l => l.Decision.Timestamp.ToUnixTimeMilliseconds() / 10_000)
            .Should().OnlyContain(g => g.Sum(l => l.Requests[1].Cost) <= 40, "a fixed window counts every permit used in it");
    }

    private static string NewKey(string name) => $"{name}:{Guid.NewGuid():N}";

    private static async Task<(RateLimitDecision Decision, RateLimitEntry[] Entries)> ReserveAsync(IRateLimitStore store, TimeSpan maxWait, params RateLimitRequest[] requests)
    {
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await store.ReserveAsync(requests, maxWait, entries);
        return (decision, entries);
    }

    private static async Task<long> PeekCountAsync(IRateLimitStore store, string key, RateLimitRule rule)
    {
        RateLimitEntry[] entries = new RateLimitEntry[1];
        await store.PeekAsync(new[] { new RateLimitRequest(key, rule, 0) }, entries);
        return entries[0].Count;
    }
}
