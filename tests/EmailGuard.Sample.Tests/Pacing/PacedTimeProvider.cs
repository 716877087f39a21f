using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Sample.Tests.Pacing;

/// <summary>
/// A fake clock that reports the instant every timer is due, so that a test moves time to a mail's slot only once the
/// worker is waiting for it (a timer made after the move would be due later than the slot).
/// </summary>
internal sealed class PacedTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly ConcurrentDictionary<DateTimeOffset, byte> _due = new();
    private readonly SemaphoreSlim _created = new(0);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime > TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
        {
            _due.TryAdd(GetUtcNow() + dueTime, 0);
            _created.Release();
        }

        return timer;
    }

    /// <summary>Waits (in real time, at most <paramref name="timeout"/>) until a timer due at <paramref name="at"/> exists.</summary>
    public async Task WaitForTimerAsync(DateTimeOffset at, TimeSpan timeout)
    {
        using CancellationTokenSource cts = new(timeout);
        while (!_due.ContainsKey(at))
        {
            await _created.WaitAsync(cts.Token);
        }
    }
}
