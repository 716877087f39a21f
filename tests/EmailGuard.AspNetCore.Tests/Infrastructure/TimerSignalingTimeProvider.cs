using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A fake clock that says when a timer was created. A request runs on the server's side of the TestServer, so the test
/// must not advance the clock before the store call's timeout timer exists: the timer would then start counting from
/// the advanced time and never fire.
/// </summary>
internal sealed class TimerSignalingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly Channel<TimeSpan> _created = Channel.CreateUnbounded<TimeSpan>();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(callback, state, dueTime, period);
        _created.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>Waits until a timer with <paramref name="dueTime"/> is created, or fails after 30 s so a broken test cannot hang the run.</summary>
    public async Task WaitForTimerAsync(TimeSpan dueTime)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await _created.Reader.ReadAsync(guard.Token) != dueTime)
        {
        }
    }
}
