namespace EmailGuard;

/// <summary>
/// Reservations: the earliest time within a maximum wait at which every rule of a call has room, taken atomically.
/// The Redis acquire script decides them the same way, in its reserve mode.
/// </summary>
internal sealed partial class InMemoryRateLimitStore
{
    /// <summary>The maximum wait that means "an acquire, not a reservation".</summary>
    private const long NoReservation = -1;

    public ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        long maxWaitMs = RateLimitValidation.ValidateMaxWait(maxWait);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        return new(Decide(requests.Span, results.Span, commit: true, maxWaitMs));
    }

    /// <summary>
    /// Decides a reservation with everything locked. Admitted now when everything fits now. Otherwise, when only token
    /// buckets are short and each can have room within <paramref name="maxWaitMs"/>, admitted at the latest of their
    /// earliest times, provided every window rule still counts in the window (fixed) or segment (sliding) of now then,
    /// so its permits count when they are used; its decision's timestamp is that time. Window rules count in the window
    /// or segment of now (the decision's <see cref="RateLimitDecision.DecidedAt"/>); a counter takes part whatever the
    /// reserved time. Otherwise denied exactly as an acquire now would be.
    /// </summary>
    private RateLimitDecision ReserveMany(
        ReadOnlySpan<RateLimitRequest> requests,
        Span<RateLimitEntry> results,
        Span<InMemoryCounter?> counters,
        ReadOnlySpan<InMemoryShape?> absent,
        long now,
        long maxWaitMs,
        ref bool overflowed)
    {
        long waitMs = 0;
        bool blocked = false;
        for (int i = 0; i < requests.Length && !blocked; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            InMemoryCounter? counter = counters[i];
            InMemoryOverflowSketch? sketch = SketchOf(in request, absent[i]);
            sketch?.Follow(request.Rule, now);
            long pending = Pending(requests, counters, i);
            long total = (counter?.CountAt(request.Rule, now) ?? sketch?.CountAt(request.Key, now) ?? 0) + pending + request.Cost;
            if (total <= request.Rule.Limit)
            {
                continue;
            }

            TimeSpan retry = RetryAfter(counter, sketch, in request, now, pending + request.Cost, total - request.Rule.Limit);
            blocked = request.Rule.Algorithm != RateLimitAlgorithm.TokenBucket || retry == TimeSpan.MaxValue;
            waitMs = Math.Max(waitMs, retry.Ticks / TimeSpan.TicksPerMillisecond);
        }

        if (blocked || waitMs > maxWaitMs || (waitMs > 0 && MovesAWindow(requests, now, now + waitMs)))
        {
            return EvaluateMany(requests, results, counters, absent, commit: true, now, now, ref overflowed);
        }

        return EvaluateMany(requests, results, counters, absent, commit: true, now + waitMs, windowsAt: now, ref overflowed);
    }

    /// <summary>
    /// Whether a window rule of the call that can deny counts <paramref name="at"/> in another window or segment than
    /// <paramref name="now"/>. A counter (<see cref="RateLimitRule.IsCounter"/>) never holds a reservation back: it counts now.
    /// </summary>
    private static bool MovesAWindow(ReadOnlySpan<RateLimitRequest> requests, long now, long at)
    {
        foreach (ref readonly RateLimitRequest request in requests)
        {
            RateLimitRule rule = request.Rule;
            if (rule.Algorithm != RateLimitAlgorithm.TokenBucket && !rule.IsCounter && rule.GetSegmentIndex(at) != rule.GetSegmentIndex(now))
            {
                return true;
            }
        }

        return false;
    }
}
