using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>
/// Tallies (<see cref="RateLimitRule.IsTally"/>) on a full in-memory store: never read from, counted in or seeded from the
/// overflow sketch, whose cells a flood of other keys of the same shape fills.
/// </summary>
public sealed class InMemoryTallyOverflowTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    [Fact]
    public async Task Acquire_BucketTallyOfANewKeyOnAFullStore_ReadsNothingAndNeverDenies()
    {
        // Arrange: a bucket of 10 an hour that floods fill, and a tally of the same shape holding 10.
        (InMemoryRateLimitStore store, _) = await FullStoreAsync(RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 10));
        RateLimitRule tally = RateLimitRule.TokenBucket(10, TimeSpan.FromHours(1), 5).WithBurstAtSameRate(10).AsTally();
        RateLimitEntry[] entries = new RateLimitEntry[1];

        // Act
        RateLimitDecision decision = await store.AcquireAsync(new[] { new RateLimitRequest("own", tally) }, entries);
        RateLimitDecision again = await store.AcquireAsync(new[] { new RateLimitRequest("own", tally) }, entries);

        // Assert
        decision.IsAllowed.Should().BeTrue("a tally is never counted in the sketch, whose cells the flood filled");
        again.IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(1, "nothing was counted for it: the store is full");
        store.TrackedKeys.Should().Be(1);
    }

    [Fact]
    public async Task Acquire_WindowTallyGivenACounterOnceASlotFrees_StartsFromItsOwnCount()
    {
        // Arrange
        RateLimitRule rule = RateLimitRule.FixedWindow(10, TimeSpan.FromHours(1));
        (InMemoryRateLimitStore store, string occupant) = await FullStoreAsync(rule);
        RateLimitRule tally = rule.WithLimit(RateLimitRule.MaxLimit).AsTally();
        RateLimitEntry[] entries = new RateLimitEntry[1];
        (await store.AcquireAsync(new[] { new RateLimitRequest("own", tally) }, entries)).IsAllowed.Should().BeTrue();
        entries[0].Count.Should().Be(1, "the full store does not count it, and the sketch is not read for it");

        // Act: the slot frees up, so the tally gets an exact counter.
        await store.ResetAsync(occupant, rule);
        (await store.AcquireAsync(new[] { new RateLimitRequest("own", tally, 2) }, entries)).IsAllowed.Should().BeTrue();
        (_, RateLimitEntry counted) = await store.PeekAsync("own", tally);

        // Assert
        store.TrackedKeys.Should().Be(1, "the tally took the free slot");
        counted.Count.Should().Be(2, "a tally's new counter is not seeded from the sketch, which counts others' keys in its cells");
    }

    /// <summary>A store with room for one counter, taken, and the overflow sketch of <paramref name="rule"/>'s shape full.</summary>
    private static async Task<(InMemoryRateLimitStore Store, string Occupant)> FullStoreAsync(RateLimitRule rule)
    {
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 1, SweepInterval = TimeSpan.FromDays(1) }, time);
        await store.AcquireAsync("occupant", rule);

        // Each new key takes the whole limit at once, so one is admitted only while a cell of its is still empty.
        int deniedInARow = 0;
        for (int i = 0; deniedInARow < 200 && i < 100_000; i++)
        {
            deniedInARow = (await store.AcquireAsync($"flood-{i}", rule, rule.Limit)).Decision.IsAllowed ? 0 : deniedInARow + 1;
        }

        deniedInARow.Should().Be(200, "the flood filled the sketch");
        return (store, "occupant");
    }
}
