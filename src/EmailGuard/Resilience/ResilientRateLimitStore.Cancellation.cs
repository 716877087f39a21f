using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// A caller that cancels an acquire is answered at once, and is not charged. The store gets the caller's token, so
/// it sends nothing once the caller has cancelled and gives back what an acquire in flight took. But the store may
/// have reached its decision just before it saw the cancellation (or may not honour tokens at all); that admission
/// would stay charged while the caller was told "cancelled", so it is given back here once the store answers. So is the
/// late admission of a call that timed out under fail-closed or the local fallback: its caller was answered by the failure
/// mode, not by it.
/// </summary>
/// <remarks>
/// The Redis store has a tracker of its own (<c>RedisRateLimitStore.Cancellation.cs</c>) on purpose. The shared part is
/// a set of running tasks that tests await, a dozen lines; the give-back differs: here it sees only the store's
/// decision and refunds it through the public <see cref="IRateLimitStore.RefundAsync"/>, while the Redis store reads
/// from the raw script reply whether and when the script admitted, and refunds by that timestamp before any decision
/// exists. Sharing the dozen lines would mean making a task tracker public API of the core, which no store needs.
/// </remarks>
internal sealed partial class ResilientRateLimitStore
{
    private readonly ConcurrentDictionary<Task, byte> _cancelledCalls = new();

    /// <summary>Completes once every cancelled acquire still running in the store has finished and been given back; for tests.</summary>
    internal async Task CancelledCallsSettledAsync()
    {
        while (!_cancelledCalls.IsEmpty)
        {
            await Task.WhenAll(_cancelledCalls.Keys).ConfigureAwait(false);
        }
    }

    private void GiveBackWhenCancelled(Task<RateLimitDecision> task, StoreCallBuffers buffers)
    {
        Task settling = GiveBackIfAdmittedAsync(task, buffers);
        _cancelledCalls.TryAdd(settling, 0);
        _ = settling.ContinueWith(
            static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
            _cancelledCalls,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task GiveBackIfAdmittedAsync(Task<RateLimitDecision> task, StoreCallBuffers buffers)
    {
        try
        {
            RateLimitDecision decision;
            try
            {
                decision = await task.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The store saw the cancellation (and gives back itself) or failed: nothing of its to give back here.
            catch (Exception)
#pragma warning restore CA1031
            {
                return;
            }

            if (decision.Status != RateLimitStatus.Allowed)
            {
                return;
            }

            try
            {
                await _store.RefundAsync(buffers.Requests, decision, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Nobody waits for this; a permit left taken only makes a limit stricter until its window ends.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogCancelledGiveBackFailed(_logger, LogValue.Of(ex));
            }
        }
        finally
        {
            buffers.Return();
        }
    }

    [LoggerMessage(EventId = 1305, EventName = "CancelledAcquireGiveBackFailed", Level = LogLevel.Warning,
        Message = "The store admitted an acquire whose caller had cancelled or timed out, and giving it back failed; that counter stays stricter until its window ends.")]
    private static partial void LogCancelledGiveBackFailed(ILogger logger, Exception exception);
}
