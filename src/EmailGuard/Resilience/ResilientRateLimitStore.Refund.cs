using System.Diagnostics;

namespace EmailGuard;

/// <summary>Refunds: to the store that admitted the permits, at most once, and never by failing the caller.</summary>
internal sealed partial class ResilientRateLimitStore
{
    /// <summary>
    /// Gives permits back to the store that admitted them, at most once per acquire (the store records the decision's
    /// <see cref="RateLimitDecision.AcquisitionId"/>). A decision of the local fallback is refunded to the local store,
    /// never to the shared one, even after the shared store is back. A refund of a shared-store decision while the
    /// circuit is open, or one that fails, is logged and dropped: a lost refund only makes limits stricter, whereas a
    /// refund to a store that did not count the permits would free permits nobody gave back.
    /// </summary>
    /// <returns>Whether the acquire was refunded by this call.</returns>
    public async ValueTask<bool> TryRefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateRequests(requests.Span, 0, allowZeroCost: false);
        cancellationToken.ThrowIfCancellationRequested();
        if (!decision.IsRefundable)
        {
            return false;
        }

        if (_storeIsLocal || decision.AdmittedLocally)
        {
            return await RefundLocallyAsync(requests, decision, cancellationToken).ConfigureAwait(false);
        }

        StoreCallPermit permit = Enter();
        if (permit == StoreCallPermit.Rejected)
        {
            _metrics?.RecordFallback(StoreOperation.Refund, StoreFailureMode.FailClosed, circuitOpen: true);
            return false;
        }

        using Activity? activity = StartActivity(StoreOperation.Refund, requests.Length);
        long started = _timeProvider.GetTimestamp();
        try
        {
            bool refunded = await RefundRemoteAsync(requests, decision, cancellationToken).ConfigureAwait(false);

            Completed(StoreOperation.Refund, permit, started, activity, null);
            return refunded;
        }
        catch (RateLimitStoreBusyException ex)
        {
            StoreBusy(StoreOperation.Refund, permit, _timeProvider.GetElapsedTime(started), ex);
            return false;
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            Completed(StoreOperation.Refund, permit, started, activity, ex);
            return false;
        }
        catch
        {
            _breaker.Abandon(permit);
            throw;
        }
    }

    /// <inheritdoc />
    ValueTask<bool> IResilientRateLimitStore.RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken)
        => TryRefundAsync(requests, decision, cancellationToken);

    private async ValueTask<bool> RefundRemoteAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken)
    {
        StoreCallBuffers buffers = StoreCallBuffers.Rent(requests.Span, 0);
        bool abandoned = false;
        try
        {
            ValueTask<bool> pending = _store.RefundAsync(buffers.Requests, decision, CancellationToken.None);
            if (pending.IsCompletedSuccessfully)
            {
                return pending.Result;
            }

            Task<bool> task = pending.AsTask();
            try
            {
                return await task.WaitAsync(_timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                abandoned = true;
                BoundedCall.Abandon(task, s_returnBuffers, buffers);
                throw;
            }
        }
        finally
        {
            if (!abandoned)
            {
                buffers.Return();
            }
        }
    }
}
