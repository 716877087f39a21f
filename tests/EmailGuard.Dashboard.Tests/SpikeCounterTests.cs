using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The spike counts of a flood on a store across the network: what the over-limit cache denies without a round trip
/// must not cost one a denial in the alerts either.
/// </summary>
public sealed class SpikeCounterTests
{
    [Fact]
    public async Task FloodOnARemoteStore_OneCallAnInterval_EveryDenialCounted_OneSpike()
    {
        // Arrange: a store that answers once released, as one across the network answers later; a clock that moves only
        // when told, and says when the counter waits on it.
        EmailGuardLimitArguments denial = await OneDenialAsync();
        TimerCountingTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 10, 0, 0, TimeSpan.Zero));
        CountingStore store = new();
        int spikes = 0;
        SpikeCounter counter = new(store, threshold: 1_000, TimeSpan.FromHours(1), time, NullLogger.Instance, (_, _) => Interlocked.Increment(ref spikes));

        // Act: a thousand denials while the first one's call is out.
        for (int i = 0; i < 1_000; i++)
        {
            counter.Add(denial);
        }

        // The first call answered, the counter either waits on the clock for the interval's end (its only timer) or
        // calls again at once. Both are waited for, not a fixed time: a flush held up longer than that time on a loaded
        // machine would create its timer after the clock had moved, and the timer would never fire.
        store.Release();
        bool parked = await WaitUntilAsync(() => store.Answered > 0 && (time.TimersCreated > 0 || store.Calls > 1));
        int callsWithinTheInterval = store.Calls;
        time.Advance(SpikeCounter.FlushInterval);
        bool allCounted = await WaitUntilAsync(() => store.Total == 1_000);

        // Assert
        parked.Should().BeTrue("the first call is answered, and the counter then waits on the clock or calls again");
        callsWithinTheInterval.Should().Be(1, "the 999 denials heard after the first wait for the interval's end, not for its call alone");
        allCounted.Should().BeTrue("they go in the next call, as one increment");
        store.Calls.Should().Be(2);
        spikes.Should().Be(1);
    }

    /// <summary>A limit denial as the guard raises it.</summary>
    private static async Task<EmailGuardLimitArguments> OneDenialAsync()
    {
        TaskCompletionSource<EmailGuardLimitArguments> raised = new(TaskCreationOptions.RunContinuationsAsynchronously);
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddSendGuard(o =>
        {
            o.Tenant.Add(RateLimitRule.PerHour(1));
            o.Events.OnLimitExceeded = a =>
            {
                raised.TrySetResult(a);
                return ValueTask.CompletedTask;
            };
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        IEmailSendGuard guard = provider.GetRequiredService<IEmailSendGuard>();
        OutboundEmail message = new() { To = ["victim@example.com"], TenantId = "flood" };
        (await guard.CheckAsync(message)).IsAllowed.Should().BeTrue();
        (await guard.CheckAsync(message)).IsAllowed.Should().BeFalse();
        return await raised.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    private static async Task<bool> WaitUntilAsync(Func<bool> condition)
    {
        for (long started = Stopwatch.GetTimestamp(); Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(30); await Task.Delay(10))
        {
            if (condition())
            {
                return true;
            }
        }

        return condition();
    }

    /// <summary>A fake clock that counts the timers created on it.</summary>
    private sealed class TimerCountingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private int _timersCreated;

        public int TimersCreated => Volatile.Read(ref _timersCreated);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = base.CreateTimer(callback, state, dueTime, period);
            Interlocked.Increment(ref _timersCreated);
            return timer;
        }
    }

    /// <summary>Counts every call and the permits taken; answers once released.</summary>
    private sealed class CountingStore : IResilientRateLimitStore
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _total;
        private int _calls;
        private int _answered;

        public int Calls => Volatile.Read(ref _calls);

        public int Answered => Volatile.Read(ref _answered);

        public long Total => Interlocked.Read(ref _total);

        public void Release() => _released.SetResult();

        public async ValueTask<RateLimitDecision> AcquireAsync(
            ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            await _released.Task;
            RateLimitRequest request = requests.Span[0];
            long count = Interlocked.Add(ref _total, request.Cost);
            results.Span[0] = new RateLimitEntry(true, count, request.Rule.Limit, TimeSpan.Zero, DateTimeOffset.UnixEpoch.AddHours(1));
            Interlocked.Increment(ref _answered);
            return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, DateTimeOffset.UnixEpoch);
        }

        public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();

        public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
            => throw new NotSupportedException();
    }
}
