using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Runs the application's event callbacks without letting them delay or break a send. A callback that completes at once
/// costs nothing more; one that goes asynchronous continues in the background, and at most <see cref="MaxPending"/> of them
/// run at a time: further events are dropped (and counted in a log) rather than queued, so a stalled alerting endpoint cannot
/// grow memory during a flood. An exception from a callback is logged and swallowed.
/// </summary>
internal sealed partial class EmailGuardEventRunner(ILogger logger)
{
    /// <summary>The most callbacks of one component still running in the background.</summary>
    internal const int MaxPending = 64;

    /// <summary>After the first, one log line per this many dropped events, so the drop log cannot flood either.</summary>
    private const long DropLogInterval = 1_000;

    private int _pending;
    private long _dropped;

    /// <summary>Gets the callbacks still running in the background.</summary>
    internal int Pending => Volatile.Read(ref _pending);

    public void Run<TArgs>(Func<TArgs, ValueTask> callback, TArgs arguments, string eventName)
    {
        if (Interlocked.Increment(ref _pending) > MaxPending)
        {
            Interlocked.Decrement(ref _pending);
            long dropped = Interlocked.Increment(ref _dropped);
            if (dropped == 1 || dropped % DropLogInterval == 0)
            {
                LogCallbackDropped(logger, eventName, MaxPending, dropped);
            }

            return;
        }

        ValueTask pending;
        try
        {
            pending = callback(arguments);
        }
        catch (Exception ex)
        {
            Interlocked.Decrement(ref _pending);
            LogCallbackFailed(logger, eventName, LogValue.Of(ex));
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            Interlocked.Decrement(ref _pending);
            return;
        }

        _ = ObserveAsync(pending, eventName);
    }

    private async Task ObserveAsync(ValueTask pending, string eventName)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogCallbackFailed(logger, eventName, LogValue.Of(ex));
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    [LoggerMessage(EventId = 407, EventName = "EventCallbackFailed", Level = LogLevel.Error,
        Message = "The EmailGuard {EventName} callback threw; the decision it reports stands.")]
    private static partial void LogCallbackFailed(ILogger logger, string eventName, Exception exception);

    [LoggerMessage(EventId = 2070, EventName = "EventCallbackDropped", Level = LogLevel.Warning,
        Message = "An EmailGuard {EventName} event was dropped because {MaxPending} earlier callbacks are still running; {Dropped} events were dropped so far.")]
    private static partial void LogCallbackDropped(ILogger logger, string eventName, int maxPending, long dropped);
}
