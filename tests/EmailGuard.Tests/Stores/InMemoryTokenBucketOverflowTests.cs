using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Stores;

/// <summary>Token buckets of keys that found the in-memory store full: decided in the overflow sketch, never looser than exact.</summary>
public sealed class InMemoryTokenBucketOverflowTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero);

    [Fact]
    public async Task Acquire_FloodOfBucketKeysPastTheCap_EachHeldToItsBurstAndRate()
    {
        // Arrange: room for one counter; 10 per second, burst 3.
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 1, SweepInterval = TimeSpan.FromDays(1) }, time);
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 3);
        await store.AcquireAsync("occupant", rule);

        // Act
        int[] burst = new int[200];
        for (int k = 0; k < burst.Length; k++)
        {
            for (int i = 0; i < 5; i++)
            {
                burst[k] += (await store.AcquireAsync($"flood-{k}", rule)).Decision.IsAllowed ? 1 : 0;
            }
        }

        time.Advance(TimeSpan.FromMilliseconds(100));
        (RateLimitDecision refilled, _) = await store.AcquireAsync("flood-0", rule);
        (RateLimitDecision empty, _) = await store.AcquireAsync("flood-0", rule);

        // Assert
        store.TrackedKeys.Should().Be(1);
        store.OverflowDecisions.Should().BeGreaterThan(0);
        burst.Should().OnlyContain(admitted => admitted <= 3);
        burst[0].Should().Be(3, "a key alone in its cells is decided exactly");
        refilled.IsAllowed.Should().BeTrue();
        empty.IsAllowed.Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_BucketCountedInTheOverflowThenGivenACounter_KeepsItsArrivalTime()
    {
        // Arrange
        FakeTimeProvider time = new(Start);
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = 1, SweepInterval = TimeSpan.FromDays(1) }, time);
        RateLimitRule rule = RateLimitRule.TokenBucket(10, TimeSpan.FromSeconds(1), 3);
        await store.AcquireAsync("occupant", rule);
        await store.AcquireAsync("moving", rule, 3);

        // Act: the slot frees up, so the next acquire would give the key an exact counter.
        await store.ResetAsync("occupant", rule);
        (RateLimitDecision next, _) = await store.AcquireAsync("moving", rule);

        // Assert
        next.IsAllowed.Should().BeFalse("the three permits taken in the overflow still hold the bucket");
        next.RetryAfter.Should().Be(TimeSpan.FromMilliseconds(100));
    }
}
