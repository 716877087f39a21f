namespace EmailGuard;

/// <summary>Reservations: bounded and broken like every store call; a store that cannot answer reserves nothing ahead.</summary>
internal sealed partial class ResilientRateLimitStore
{
    /// <summary>
    /// Reserves as <see cref="IRateLimitStore.ReserveAsync"/> does. When the store cannot answer, the failure mode
    /// decides now, as for an acquire: the local fallback and an unguarded admission never promise a later time (the
    /// decision's timestamp is now), so a reservation made during an outage is an acquire now or a denial.
    /// </summary>
    public ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken = default)
        => ReserveAsync(requests, maxWait, results, failureMode, null, cancellationToken);

    /// <summary>Reserves within a check's store time budget (see <see cref="StoreTimeBudget"/>).</summary>
    public ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, StoreFailureMode failureMode, StoreTimeBudget? budget, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateMaxWait(maxWait);
        if (_storeIsLocal)
        {
            return CallLocal(StoreOperation.Reserve, requests, results, failureMode, maxWait, cancellationToken);
        }

        RateLimitValidation.ValidateRequests(requests.Span, results.Length, allowZeroCost: false);
        return DecideAsync(StoreOperation.Reserve, requests, results, failureMode, maxWait, budget, cancellationToken);
    }
}
