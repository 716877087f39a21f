using EmailGuard.Tests.Stores;
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

    [Fact]
    public async Task WriteBack_StoreAdmitsAsItsWaitTimesOut_TheLocalAdmitIsCountedOnce()
    {
        // Arrange: "k" admitted locally while the store was down.
        FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero));
        HangingStore store = new(new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), time)) { Down = true };
        ResilientRateLimitStore resilient = new(store, new StoreResilienceOptions { Timeout = TimeSpan.FromSeconds(1) }, time);
        (await resilient.AcquireAsync(ResilienceHarness.One("k", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).IsAllowed.Should().BeTrue();

        // Act: the store answers again, but hangs on the write-back of "k", and admits it in the gap between the
        // write-back's wait timing out and the wrapper looking at the call. The wrapper took that call for one that
        // had failed by itself and left its admission standing; the write-back, still pending, counted "k" again.
        store.Down = false;
        store.HangKey = "k";
        TimeoutRace race = new(store.AdmitHanging);
        (await race.Start(() => resilient.AcquireAsync(ResilienceHarness.One("other", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback).AsTask()))
            .IsAllowed.Should().BeTrue();
        (await Task.WhenAny(store.Hung.Task, Task.Delay(TimeSpan.FromSeconds(30)))).Should().Be(store.Hung.Task, "a decision of the store starts the write-back");
        race.Arm();

        // The wait's timer may be made just after the call reached the store: a second's advance that came first fires it at the next.
        for (int i = 0; i < 10 && !race.Answered; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAny(resilient.WriteBack, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        await resilient.WriteBack.WaitAsync(TimeSpan.FromSeconds(30));
        await resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));
        store.HangKey = null;
        (await resilient.AcquireAsync(ResilienceHarness.One("other", s_rule), Memory<RateLimitEntry>.Empty, StoreFailureMode.LocalFallback)).IsAllowed.Should().BeTrue();
        await resilient.WriteBack.WaitAsync(TimeSpan.FromSeconds(30));
        await resilient.CancelledCallsSettledAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: one local admit, counted once in the store.
        race.Answered.Should().BeTrue("the store admitted the write-back in the gap");
        RateLimitEntry[] entry = new RateLimitEntry[1];
        await store.Inner.PeekAsync(ResilienceHarness.One("k", s_rule, cost: 0), entry);
        entry[0].Count.Should().Be(1, "the admission that came as the write-back's wait timed out was given back, and the second write-back counted the admit");
    }

    /// <summary>A shared store that can be down, or hang the acquires of one key until one is admitted at once, synchronously.</summary>
    private sealed class HangingStore(InMemoryRateLimitStore inner) : ForwardingRateLimitStore(inner)
    {
        private (TaskCompletionSource<RateLimitDecision> Completion, RateLimitRequest[] Requests)? _hanging;

        public bool Down { get; set; }

        public string? HangKey { get; set; }

        public TaskCompletionSource Hung { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemoryRateLimitStore Inner => (InMemoryRateLimitStore)Next;

        /// <summary>Admits the hanging acquire in the inner store and completes its task, before this returns.</summary>
        public void AdmitHanging()
        {
            (TaskCompletionSource<RateLimitDecision> completion, RateLimitRequest[] requests) = _hanging!.Value;
            ValueTask<RateLimitDecision> admitted = Next.AcquireAsync(requests, Memory<RateLimitEntry>.Empty);
            completion.SetResult(admitted.Result);
        }

        public override ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        {
            if (HangKey is { } hang && requests.Span[0].Key == hang)
            {
                TaskCompletionSource<RateLimitDecision> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
                _hanging = (completion, requests.ToArray());
                Hung.TrySetResult();
                return new(completion.Task);
            }

            return DecideLaterAsync(requests, results, cancellationToken);
        }


        private async ValueTask<RateLimitDecision> DecideLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Down)
            {
                throw new InvalidOperationException("The store is down.");
            }

            return await Next.AcquireAsync(requests, results, cancellationToken);
        }
    }

    /// <summary>A shared store that can be down, or hold the acquires of one key until released.</summary>
    private sealed class HoldingStore(InMemoryRateLimitStore inner) : ForwardingRateLimitStore(inner)
    {
        public bool Down { get; set; }

        public string? HoldKey { get; set; }

        public TaskCompletionSource Held { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemoryRateLimitStore Inner => (InMemoryRateLimitStore)Next;

        public override async ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
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

            return await Next.AcquireAsync(requests, results, cancellationToken);
        }
    }
}
