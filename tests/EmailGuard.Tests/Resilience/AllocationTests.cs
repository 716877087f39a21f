using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

public sealed class AllocationTests
{
    [Fact]
    public void Breaker_ClosedPath_AllocatesNothing()
    {
        FakeTimeProvider time = new();
        StoreCircuitBreaker breaker = new(new StoreResilienceOptions(), time);
        Cycle(breaker, 100);

        long allocated = Allocations.LeastOf(() => Cycle(breaker, 10_000));

        allocated.Should().Be(0);

        static void Cycle(StoreCircuitBreaker breaker, int count)
        {
            for (int i = 0; i < count; i++)
            {
                breaker.OnSuccess(breaker.TryEnter());
            }
        }
    }

    [Fact]
    public void AcquireAsync_InMemoryStoreWithCircuitClosed_AllocatesNothingBeyondTheStore()
    {
        FakeTimeProvider time = new();
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions(), time);
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions(), time);
        RateLimitRequest[] requests = [new("tenant:a", RateLimitRule.PerHour(1_000_000)), new("user:b", RateLimitRule.PerDay(1_000_000))];
        RateLimitEntry[] results = new RateLimitEntry[2];
        Acquire(resilient, store, requests, results, 100);

        long byStore = Allocations.LeastOf(() => Acquire(null, store, requests, results, 1_000));
        long byWrapper = Allocations.LeastOf(() => Acquire(resilient, store, requests, results, 1_000));

        byWrapper.Should().Be(byStore);
        results[0].Count.Should().Be(6_100);

        static void Acquire(ResilientRateLimitStore? resilient, InMemoryRateLimitStore store, RateLimitRequest[] requests, RateLimitEntry[] results, int count)
        {
            for (int i = 0; i < count; i++)
            {
                ValueTask<RateLimitDecision> pending = resilient is null
                    ? store.AcquireAsync(requests, results)
                    : resilient.AcquireAsync(requests, results, StoreFailureMode.FailOpen);
                if (!pending.IsCompletedSuccessfully || pending.Result.Status != RateLimitStatus.Allowed)
                {
                    throw new InvalidOperationException("The in-memory path should complete synchronously and admit.");
                }
            }
        }
    }
}
