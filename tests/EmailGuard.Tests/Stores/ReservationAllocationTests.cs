using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace EmailGuard.Tests.Stores;

/// <summary>A reserve next to an acquire on the in-memory store: neither allocates once its counters exist.</summary>
public sealed class ReservationAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public void ReserveAsync_InMemory_AllocatesNothingLikeAnAcquire()
    {
        // Arrange: a bucket of one permit per ms (so every reservation waits one more ms) and a daily window.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 10, 17, 23, 456, TimeSpan.Zero));
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        RateLimitRequest[] reserve = [new("provider", RateLimitRule.TokenBucket(1_000, TimeSpan.FromSeconds(1), 1)), new("account", RateLimitRule.PerDay(1_000_000))];
        RateLimitRequest[] acquire = [new("tenant", RateLimitRule.PerDay(1_000_000)), new("account", RateLimitRule.PerDay(1_000_000))];
        RateLimitEntry[] results = new RateLimitEntry[2];
        Run(store, reserve, acquire, results, 100);

        // Act: the least of three rounds each (see Allocations: a trimmed ArrayPool makes one round allocate once; 4,704
        // bytes over 1,000 acquires in a CI run).
        DateTimeOffset last = default;
        long byReserves = Allocations.LeastOf(() => last = Run(store, reserve, null, results, 1_000));
        long byAcquires = Allocations.LeastOf(() => Run(store, null, acquire, results, 1_000));

        output.WriteLine($"1,000 reserves: {byReserves} bytes; 1,000 acquires: {byAcquires} bytes (the least of three rounds)");

        // Assert
        byReserves.Should().Be(0);
        byAcquires.Should().Be(0);
        last.Should().Be(time.GetUtcNow().AddMilliseconds(3_099), "each reservation waited one more ms");

        static DateTimeOffset Run(InMemoryRateLimitStore store, RateLimitRequest[]? reserve, RateLimitRequest[]? acquire, RateLimitEntry[] results, int count)
        {
            DateTimeOffset last = default;
            for (int i = 0; i < count; i++)
            {
                ValueTask<RateLimitDecision> pending = reserve is not null
                    ? store.ReserveAsync(reserve, TimeSpan.FromHours(1), results)
                    : store.AcquireAsync(acquire, results);
                if (!pending.IsCompletedSuccessfully || !pending.Result.IsAllowed)
                {
                    throw new InvalidOperationException("The in-memory path should complete synchronously and admit.");
                }

                last = pending.Result.Timestamp;
                if (reserve is not null && acquire is not null)
                {
                    _ = store.AcquireAsync(acquire, results);
                }
            }

            return last;
        }
    }
}
