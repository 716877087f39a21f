using System.Collections.Concurrent;
using System.Diagnostics;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Many callers acquiring through the resilient store until told to stop, or until each has made its maximum number
/// of calls. Every call is recorded, including any exception, which a caller must never see.
/// </summary>
internal sealed class ConcurrentLoad
{
    private readonly ConcurrentQueue<LoadCall> _calls = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

    public IReadOnlyCollection<LoadCall> Calls => _calls;

    public void Start(int callers, int maxCallsPerCaller, TimeSpan pause, Func<int, int, ValueTask<RateLimitDecision>> call)
    {
        _running = Task.WhenAll(Enumerable.Range(0, callers).Select(caller => Task.Run(async () =>
        {
            for (int i = 0; i < maxCallsPerCaller && !_stop.IsCancellationRequested; i++)
            {
                long started = Stopwatch.GetTimestamp();
                try
                {
                    RateLimitDecision decision = await call(caller, i);
                    _calls.Enqueue(new LoadCall(started, Stopwatch.GetElapsedTime(started), decision, null));
                }
#pragma warning disable CA1031 // Recording every exception is the point: the test asserts there are none.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _calls.Enqueue(new LoadCall(started, Stopwatch.GetElapsedTime(started), default, ex));
                }

                if (pause > TimeSpan.Zero)
                {
                    await Task.Delay(pause, TimeProvider.System);
                }
            }
        })));
    }

    /// <summary>Waits until the callers have made at least <paramref name="count"/> calls between them: the load is under way.</summary>
    public async Task WaitForCallsAsync(int count, TimeSpan hangGuard)
    {
        long started = Stopwatch.GetTimestamp();
        while (_calls.Count < count)
        {
            if (Stopwatch.GetElapsedTime(started) > hangGuard || _running!.IsCompleted)
            {
                throw new TimeoutException($"The load made {_calls.Count} of {count} calls within {hangGuard}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(5), TimeProvider.System);
        }
    }

    /// <summary>
    /// Waits until a call has been answered with <paramref name="status"/> (or the callers made all their calls, or
    /// <paramref name="hangGuard"/> passed; the test then asserts what it got): the load goes as far as the test needs,
    /// however many of its calls a loaded machine had answered otherwise, by the failure mode.
    /// </summary>
    public async Task WaitForStatusAsync(RateLimitStatus status, TimeSpan hangGuard)
    {
        long started = Stopwatch.GetTimestamp();
        while (!_calls.Any(c => c.Exception is null && c.Decision.Status == status) && !_running!.IsCompleted && Stopwatch.GetElapsedTime(started) < hangGuard)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }
    }

    /// <summary>
    /// Waits until the callers have made at least <paramref name="count"/> calls that started at or after
    /// <paramref name="timestamp"/> (a <see cref="Stopwatch"/> timestamp), and had their answers.
    /// </summary>
    public async Task WaitForCallsStartedAfterAsync(long timestamp, int count, TimeSpan hangGuard)
    {
        long started = Stopwatch.GetTimestamp();
        while (_calls.Count(c => c.StartedAt >= timestamp) < count)
        {
            if (Stopwatch.GetElapsedTime(started) > hangGuard || _running!.IsCompleted)
            {
                throw new TimeoutException($"The load made {_calls.Count(c => c.StartedAt >= timestamp)} of {count} calls after the moment asked for within {hangGuard}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), TimeProvider.System);
        }
    }

    /// <summary>Waits until every caller has made all its calls.</summary>
    public Task CompletionAsync(TimeSpan hangGuard) => _running!.WaitAsync(hangGuard);

    /// <summary>Tells the callers to stop after their current call, and waits for them.</summary>
    public async Task StopAsync(TimeSpan hangGuard)
    {
        await _stop.CancelAsync();
        await _running!.WaitAsync(hangGuard);
    }
}
