namespace EmailGuard;

/// <summary>Refunds: giving back the permits of an admitted acquire, at most once per acquisition.</summary>
internal sealed partial class InMemoryRateLimitStore
{
    private const long RefundClaimGraceMs = 1000;

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        RateLimitValidation.ValidateRequests(span, 0, allowZeroCost: false);
        long acquiredAtMs = decision.Timestamp.ToUnixTimeMilliseconds();

        // A reservation admitted ahead took its buckets' permits for the reserved time, its windows' in the window or
        // segment of the time it was decided.
        long decidedAtMs = decision.DecidedAt.ToUnixTimeMilliseconds();
        // The claim is remembered from now for the longest window and a second, as long as the Redis store's marker,
        // so both stores answer a repeated refund alike.
        long now = NowMs();
        if (!decision.IsRefundable || span.IsEmpty || !_refunds.TryClaim(decision.AcquisitionId, now + LongestWindowMs(span) + RefundClaimGraceMs, now))
        {
            return new(false);
        }

        foreach (ref readonly RateLimitRequest request in span)
        {
            if (CountersOf(request.Rule).TryGetValue(request.Key, out InMemoryCounter? counter))
            {
                counter.Enter();
                try
                {
                    // Acquisition ids and counter ids come from one sequence, drawn while the acquire held its
                    // counters: a counter with a larger id was created after the acquire (the old one was reset,
                    // swept or evicted) and holds none of its permits.
                    if (!counter.Removed && counter.Id < decision.AcquisitionId)
                    {
                        counter.Subtract(request.Rule, request.Rule.Algorithm == RateLimitAlgorithm.TokenBucket ? acquiredAtMs : decidedAtMs, request.Cost, now);
                    }
                }
                finally
                {
                    counter.Exit();
                }
            }
        }

        return new(true);
    }

    private static long LongestWindowMs(ReadOnlySpan<RateLimitRequest> requests)
    {
        long longest = 0;
        foreach (ref readonly RateLimitRequest request in requests)
        {
            longest = Math.Max(longest, request.Rule.HoldMilliseconds);
        }

        return longest;
    }
}
