namespace EmailGuard;

/// <summary>
/// What a call decides when the store cannot answer (<see cref="StoreFailureMode"/>), and the wrapper's side of the
/// local fallback: the local counters answer during an outage, remember what the store said before it, and write
/// local admits back once it answers again (<see cref="LocalFallback"/> holds the counters and the bookkeeping).
/// </summary>
internal sealed partial class ResilientRateLimitStore
{
    private ValueTask<RateLimitDecision> ApplyFailureModeAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        switch (failureMode)
        {
            case StoreFailureMode.LocalFallback:
                return AcquireLocallyAsync(requests, results, cancellationToken);
            case StoreFailureMode.FailClosed:
                results.Span.Clear();
                TimeSpan remaining = _breaker.RemainingBreak;
                return new(new RateLimitDecision(RateLimitStatus.StoreUnavailable, -1, remaining > s_minimumRetryAfter ? remaining : s_minimumRetryAfter, now));
            default:
                results.Span.Clear();
                return new(new RateLimitDecision(RateLimitStatus.AllowedUnguarded, -1, TimeSpan.Zero, now));
        }
    }

    private ValueTask<RateLimitDecision> AcquireLocallyAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
        => requests.IsEmpty
            ? _fallback.AcquireAsync(requests, results, cancellationToken)
            : _local.AcquireAsync(requests, results, cancellationToken);

    private ValueTask<bool> RefundLocallyAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken)
        => _storeIsLocal
            ? _fallback.RefundAsync(requests, decision, cancellationToken)
            : _local.RefundAsync(requests, decision, cancellationToken);

    /// <summary>
    /// After the shared store decided under <see cref="StoreFailureMode.LocalFallback"/>: remember what it counted, so a
    /// later outage does not spend the window again, and write back local admits once it answers again.
    /// </summary>
    private void AfterSharedDecision(StoreOperation operation, ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<RateLimitEntry> entries, RateLimitDecision decision)
    {
        if (operation is StoreOperation.Acquire or StoreOperation.Reserve && decision.Status is RateLimitStatus.Allowed or RateLimitStatus.LimitExceeded)
        {
            _local.Observe(requests, entries, _timeProvider.GetUtcNow());
        }

        if (_local.HasPendingWriteBacks && Volatile.Read(ref _writeBack).IsCompleted)
        {
            Volatile.Write(ref _writeBack, Task.Run(() => _local.WriteBackAsync(WriteBackOneAsync)));
        }
    }

    /// <summary>
    /// Writes local admits of these counters back before the store decides them, within what is left of the check's
    /// budget: once it is spent the check stops waiting and the write-back goes on by itself (what it does not finish
    /// stays pending, as after a failure).
    /// </summary>
    private async ValueTask WriteBackBeforeAsync(ReadOnlyMemory<RateLimitRequest> requests, StoreTimeBudget? budget)
    {
        ValueTask writing = _local.WriteBackBeforeAsync(requests, WriteBackOneAsync);
        if (budget is null || writing.IsCompleted)
        {
            await writing.ConfigureAwait(false);
            return;
        }

        try
        {
            await BoundedCall.WaitAsync(writing, budget.Wait(), _timeProvider, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Abandoned by BoundedCall; the acquire that follows finds the budget spent.
        }
    }

    /// <summary>
    /// One acquire of the write-back, bounded by the timeout like every store call; it bypasses the breaker. One that
    /// times out leaves its admits pending, to be written back again; the store may still run it (a Redis that comes
    /// back with a backlog), and that late admission would count them twice, so it is given back when the reply comes,
    /// as a timed-out acquire's is.
    /// </summary>
    private async ValueTask<(RateLimitDecision Decision, RateLimitEntry Entry)> WriteBackOneAsync(RateLimitRequest request)
    {
        StoreCallBuffers buffers = StoreCallBuffers.Rent(new ReadOnlySpan<RateLimitRequest>(in request), 1);
        Task<RateLimitDecision> task;
        try
        {
            task = _store.AcquireAsync(buffers.Requests, buffers.Results, CancellationToken.None).AsTask();
        }
        catch
        {
            buffers.Return();
            throw;
        }

        RateLimitDecision decision;
        try
        {
            decision = await task.WaitAsync(_timeout, _timeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Not "when the call is still running": it may have completed since the wait timed out, and its admission,
            // left standing, would count the admits a second time when they are written back again.
            GiveBackWhenCancelled(task, buffers);
            throw;
        }
        catch
        {
            buffers.Return();
            throw;
        }

        RateLimitEntry entry = buffers.Results.Span[0];
        buffers.Return();
        return (decision, entry);
    }
}
