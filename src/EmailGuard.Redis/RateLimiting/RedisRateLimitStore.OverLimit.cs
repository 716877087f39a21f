namespace EmailGuard.Redis;

/// <summary>
/// Denies acquires locally from <see cref="RedisOverLimitCache"/>, and keeps it told: admissions and denials that leave
/// a counter at or over its limit fill it; admissions that leave it below, refunds and resets empty it.
/// </summary>
internal sealed partial class RedisRateLimitStore
{
    /// <summary>The epoch passed by a reply that must not change the cache (a cancelled acquire being given back).</summary>
    private const long NotObserved = -1;

    /// <summary>The most requests an acquire answered locally may have: a longer one is not a flood's.</summary>
    private const int MaxLocalRequests = 16;

    private readonly RedisOverLimitCache? _overLimit;

    /// <summary>The over-limit cache, or null when it is turned off; for tests.</summary>
    internal RedisOverLimitCache? OverLimitCache => _overLimit;

    /// <inheritdoc />
    public bool TryDenyLocally(RateLimitRequest request, long now, out RateLimitDecision decision, out RateLimitEntry entry)
    {
        entry = default;
        return TryDenyLocally(new ReadOnlySpan<RateLimitRequest>(in request), new Span<RateLimitEntry>(ref entry), now, out decision);
    }

    /// <summary>
    /// Answers an acquire without Redis when every one of its counters is known to be over its limit: then Redis would
    /// deny it at the first request, and every entry, the retry-after and the time are what Redis would report. An
    /// acquire with any counter not known to be over pays its round trip, since which request denies first and the
    /// longest retry-after depend on the counters this instance has not seen.
    /// The caller's time <paramref name="now"/> (Unix ms) names the window on the client clock.
    /// </summary>
    private bool TryDenyLocally(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, long now, out RateLimitDecision decision)
    {
        decision = default;
        RedisOverLimitCache? cache = _overLimit;
        // An empty acquire (a message no rule applies to) is admitted by Redis; "every request is over" is vacuously true of it.
        if (cache is null || cache.Count == 0 || requests.Length == 0 || requests.Length > MaxLocalRequests)
        {
            return false;
        }

        long maxRetry = 0;
        long resetOfFirst = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            RateLimitRule rule = request.Rule;
            if (rule.Algorithm != RateLimitAlgorithm.FixedWindow
                || !cache.TryGetOver(request.Key, rule, WindowIndex(rule, now), out long count, out long resetAt, out long serverRetry))
            {
                return false;
            }

            // Permits the same counter's earlier requests in this call would take: the script counts them as pending.
            long pending = 0;
            for (int j = 0; j < i; j++)
            {
                if (string.Equals(requests[j].Key, request.Key, StringComparison.Ordinal) && rule.HasSameShape(requests[j].Rule))
                {
                    pending += requests[j].Cost;
                }
            }

            long retry = pending + request.Cost > rule.Limit ? -1 : _useServerTime ? serverRetry : rule.GetWindowEnd(now) - now;
            if (maxRetry >= 0 && (retry < 0 || retry > maxRetry))
            {
                maxRetry = retry;
            }

            resetOfFirst = i == 0 ? resetAt : resetOfFirst;
            if (!results.IsEmpty)
            {
                results[i] = new RateLimitEntry(
                    false, count + pending, rule.Limit, retry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(retry), DateTimeOffset.FromUnixTimeMilliseconds(resetAt));
            }
        }

        // On the server clock a single acquire is dated inside its window, as the single-key reply would be.
        long decidedAt = _useServerTime && requests.Length == 1
            ? Math.Clamp(now, resetOfFirst - requests[0].Rule.WindowMilliseconds, resetOfFirst - 1)
            : now;
        decision = new RateLimitDecision(
            RateLimitStatus.LimitExceeded, 0, maxRetry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(maxRetry), DateTimeOffset.FromUnixTimeMilliseconds(decidedAt));
        cache.RecordHit();
        return true;
    }

    /// <summary>Tells the cache what a multi-request acquire found, from its entries when the caller asked for them.</summary>
    /// <param name="requests">The requests.</param>
    /// <param name="results">Their entries, or empty.</param>
    /// <param name="decision">The decision.</param>
    /// <param name="epoch">The cache's epoch when the script was sent.</param>
    /// <param name="sentAt">A local timestamp from before the script was sent, from which the windows' time left counts.</param>
    /// <param name="admissionFills">
    /// Whether an admission's filled counters are recorded: not for a reservation, whose permits may be taken in a later
    /// window than the one acquires name now, which may still have room.
    /// </param>
    private void ObserveAcquire(ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<RateLimitEntry> results, RateLimitDecision decision, long epoch, long sentAt, bool admissionFills)
    {
        if (_overLimit is not { } cache)
        {
            return;
        }

        long now = decision.Timestamp.ToUnixTimeMilliseconds();
        if (decision.IsAllowed)
        {
            // A counter the admission filled is recorded as a denial's would be (entries in order: a counter named
            // twice ends at its later entry, which counts both); one left below its limit is forgotten.
            for (int i = 0; i < requests.Length; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                if (admissionFills && i < results.Length && request.Rule.Algorithm == RateLimitAlgorithm.FixedWindow && results[i].Count >= request.Rule.Limit)
                {
                    Record(cache, request, results[i], now, epoch, sentAt);
                }
                else
                {
                    cache.Forget(request.Key, request.Rule.ShapeId);
                }
            }

            return;
        }

        for (int i = 0; i < results.Length && i < requests.Length; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            RateLimitEntry entry = results[i];
            if (request.Rule.Algorithm != RateLimitAlgorithm.FixedWindow || entry.IsAllowed || entry.Count < request.Rule.Limit || RepeatsEarlier(requests, i))
            {
                continue;
            }

            Record(cache, request, entry, now, epoch, sentAt);
        }
    }

    /// <summary>
    /// Records a fixed-window counter an acquire decided at <paramref name="now"/> (Unix ms, the deciding clock's) left
    /// at or over its limit; the window's time left counts from <paramref name="sentAt"/>, before the script was sent.
    /// </summary>
    private void Record(RedisOverLimitCache cache, in RateLimitRequest request, RateLimitEntry entry, long now, long epoch, long sentAt)
    {
        long resetAt = entry.ResetAt.ToUnixTimeMilliseconds();
        cache.Add(request.Key, request.Rule.ShapeId, WindowIndex(request.Rule, now), entry.Count, resetAt, resetAt - now, epoch, sentAt);
    }

    /// <summary>Tells the cache that the counters of these requests went down (a refund or a give-back).</summary>
    private void InvalidateOverLimit(ReadOnlySpan<RateLimitRequest> requests, int[]? group)
    {
        if (_overLimit is not { } cache)
        {
            return;
        }

        int n = group?.Length ?? requests.Length;
        for (int k = 0; k < n; k++)
        {
            ref readonly RateLimitRequest request = ref requests[group is null ? k : group[k]];
            cache.Invalidate(request.Key, request.Rule.ShapeId);
        }
    }

    /// <summary>Whether an earlier request names the same counter: its entry's count includes that request's cost.</summary>
    private static bool RepeatsEarlier(ReadOnlySpan<RateLimitRequest> requests, int i)
    {
        for (int j = 0; j < i; j++)
        {
            if (string.Equals(requests[j].Key, requests[i].Key, StringComparison.Ordinal) && requests[j].Rule.HasSameShape(requests[i].Rule))
            {
                return true;
            }
        }

        return false;
    }
}
