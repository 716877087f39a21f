using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The write-back: once the shared store answers again, the permits admitted here go back to it, for windows still
/// current, one counter at a time.
/// </summary>
internal sealed partial class LocalFallback
{
    /// <summary>
    /// Writes the local admits of windows still current back to the shared store, one counter at a time, unless a
    /// write-back is already running. A counter whose write-back fails stays pending for the next time.
    /// </summary>
    public async Task WriteBackAsync(Func<RateLimitRequest, ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)>> acquire)
    {
        if (Interlocked.Exchange(ref _writingBack, 1) == 1)
        {
            return;
        }

        // Cleared before the scan: an admit during the scan, or a counter the scan cannot write back, sets it again.
        Volatile.Write(ref _pending, 0);
        int written = 0;
        try
        {
            foreach (KeyValuePair<CounterId, Counter> pair in _counters)
            {
                written += await WriteBackCounterAsync(pair.Key.Key, pair.Value, acquire).ConfigureAwait(false) ? 1 : 0;
            }
        }
        finally
        {
            Volatile.Write(ref _writingBack, 0);
        }

        if (written > 0)
        {
            LogWrittenBack(_logger, written);
        }
    }

    /// <summary>
    /// Writes back the local admits of these requests' counters before the shared store decides them, so that the
    /// store counts them before it admits anything more in their windows; a write-back of the same counter already
    /// running is awaited.
    /// </summary>
    /// <remarks>
    /// <paramref name="requests"/> is read only until the first write-back that does not finish at once; the rest is
    /// copied then. The caller may stop waiting within its check's store time budget and hand its pooled buffers, which
    /// <paramref name="requests"/> lives in, to another check while this goes on.
    /// </remarks>
    public ValueTask WriteBackBeforeAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Func<RateLimitRequest, ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)>> acquire)
    {
        for (int i = 0; i < requests.Length; i++)
        {
            RateLimitRequest request = requests.Span[i];
            if (_counters.TryGetValue(new CounterId(request.Rule.ShapeId, request.Key), out Counter? counter))
            {
                Task<bool> writing = WriteBackCounterAsync(request.Key, counter, acquire);
                if (!writing.IsCompletedSuccessfully)
                {
                    return WriteBackRestAsync(writing, requests[(i + 1)..].ToArray(), acquire);
                }
            }
        }

        return default;
    }

    /// <summary>The rest of <see cref="WriteBackBeforeAsync"/> once a write-back waits: its own copy of the requests.</summary>
    private async ValueTask WriteBackRestAsync(
        Task<bool> writing, RateLimitRequest[] rest, Func<RateLimitRequest, ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)>> acquire)
    {
        await writing.ConfigureAwait(false);
        await WriteBackBeforeAsync(rest, acquire).ConfigureAwait(false);
    }

    /// <summary>Writes one counter's pending local admits back; true when something was written.</summary>
    private async Task<bool> WriteBackCounterAsync(
        string key, Counter counter, Func<RateLimitRequest, ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)>> acquire)
    {
        Task? running;
        TaskCompletionSource? mine = null;
        RateLimitRule rule;
        long pending;
        long window;
        lock (counter)
        {
            running = counter.Running;
            rule = counter.Rule;
            window = counter.Window;
            pending = counter.Local - counter.Written;
            if (running is null && pending > 0)
            {
                mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                counter.Running = mine.Task;
            }
        }

        if (running is not null)
        {
            await running.ConfigureAwait(false);
            return false;
        }

        if (mine is null)
        {
            return false;
        }

        bool settled = false;
        long seen = 0;
        try
        {
            if (window != WindowOf(rule, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds()))
            {
                // The window ended: its local admits no longer count anywhere.
                settled = true;
                return false;
            }

            RateLimitRequest request = new(key, rule, Math.Min(pending, rule.Limit));
            (RateLimitDecision decision, RateLimitEntry entry) = await acquire(request).ConfigureAwait(false);
            long room = rule.Limit - entry.Count;
            if (decision.Status == RateLimitStatus.LimitExceeded && room > 0)
            {
                // No room for all of them: fill the store to the limit, so it admits nothing more in this window.
                (decision, entry) = await acquire(request with { Cost = room }).ConfigureAwait(false);
            }

            settled = decision.Status is RateLimitStatus.Allowed or RateLimitStatus.LimitExceeded;
            seen = entry.Count;
            return settled;
        }
#pragma warning disable CA1031 // Best effort: what could not be written back stays pending; nothing may escape to the request.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogWriteBackFailed(_logger, LogValue.Of(ex));
            return false;
        }
        finally
        {
            lock (counter)
            {
                counter.Running = null;
                if (settled && counter.Window == window)
                {
                    counter.Written = Math.Min(counter.Local, counter.Written + pending);
                    counter.RaiseSeen(seen);
                }
            }

            if (!settled)
            {
                Volatile.Write(ref _pending, 1);
            }

            mine.SetResult();
        }
    }


    [LoggerMessage(EventId = 1400, EventName = "LocalFallbackWrittenBack", Level = LogLevel.Information,
        Message = "The rate-limit store is back: the permits admitted locally for {Counters} counters were written back to it.")]
    private static partial void LogWrittenBack(ILogger logger, int counters);

    [LoggerMessage(EventId = 1401, EventName = "LocalFallbackWriteBackFailed", Level = LogLevel.Warning,
        Message = "Writing the permits admitted locally back to the rate-limit store failed; they stay pending for the next recovery.")]
    private static partial void LogWriteBackFailed(ILogger logger, Exception exception);
}
