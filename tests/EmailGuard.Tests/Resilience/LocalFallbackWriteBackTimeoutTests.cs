using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// A write-back of local admits that times out stays pending and is tried again. The store may still run the call
/// that timed out (a Redis that comes back from a freeze with a backlog of scripts), and its admission, left standing,
/// counted the same local admits a second time when the write-back was tried again.
/// </summary>
public sealed class LocalFallbackWriteBackTimeoutTests
{
    private static readonly RateLimitRule s_rule = RateLimitRule.PerMinute(10);

    [Fact]
    public async Task WriteBack_TimesOutButTheStoreRunsItLater_TheLocalAdmitIsCountedOnce()
    {
        // Arrange: "k" admitted locally while the store was down.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero));
        HoldingStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time)) { Down = true };
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(1) }, time);
        (await resilient.AcquireAsync(ResilienceHarness.One("k", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).IsAllowed.Should().BeTrue();

        // Act: the store answers again, but holds the write-back of "k" past the timeout; then it runs it, late.
        store.Down = false;
        store.HoldKey = "k";
        (await resilient.AcquireAsync(ResilienceHarness.One("other", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).IsAllowed.Should().BeTrue();
        (await Task.WhenAny(store.Held.Task, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(store.Held.Task, "a decision of the store starts the write-back");
        time.Advance(TimeSpan.FromSeconds(1));
        await resilient.WriteBack.WaitAsync(TimeSpan.FromSeconds(30));
        store.HoldKey = null;
        store.Release.SetResult();

        // ...and the write-back is tried again after the next decision of the store.
        await resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
        (await resilient.AcquireAsync(ResilienceHarness.One("other", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).IsAllowed.Should().BeTrue();
        await resilient.WriteBack.WaitAsync(TimeSpan.FromSeconds(30));
        await resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: one local admit, counted once in the store.
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await store.Inner.PeekAsync(ResilienceHarness.One("k", s_rule, cost: 0), entry);
        entry[0].Count.Should().Be(1, "the late run of the write-back that timed out was given back, and the second write-back counted it");
    }

    /// <summary>A shared store that can be down, or hold the acquires of one key until released.</summary>
    private sealed class HoldingStore(InMemoryRateLimitStore inner) : IRateLimitStore
    {
        public bool Down { get; set; }

        public string? HoldKey { get; set; }

        public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemoryRateLimitStore Inner => inner;

        public async ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            if (Down)
            {
                throw new InvalidOperationException("The store is down.");
            }

            if (HoldKey is { } held && requests.Span[0].Key == held)
            {
                Held.TrySetResult();
                await Release.Task;
            }

            return await inner.AcquireAsync(requests, results, cancellationToken);
        }

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => inner.PeekAsync(requests, results, cancellationToken);

        public ValueTask<RateLimitDecision> ReserveAsync(ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => inner.ReserveAsync(requests, maxWait, results, cancellationToken);

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => inner.RefundAsync(requests, decision, cancellationToken);

        public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
            => inner.ResetAsync(key, rule, cancellationToken);
    }
}
