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

    /// <summary>
    /// The share of the resilience timeout an acquire may wait for a window on the server clock to end (one tenth: 50 ms
    /// of the default 500 ms), so that the wait and the script after it fit well within the timeout.
    /// </summary>
    private const int MaxBoundaryWaitShare = 10;

    private readonly RedisOverLimitCache? _overLimit;

    /// <summary>The over-limit cache, or null when it is turned off; for tests.</summary>
    internal RedisOverLimitCache? OverLimitCache => _overLimit;

    /// <inheritdoc />
    public bool TryDenyLocally(RateLimitRequest request, long now, out RateLimitDecision decision, out RateLimitEntry entry)
    {
        entry = default;
        return TryDenyLocally(new ReadOnlySpan<RateLimitRequest>(in request), new Span<RateLimitEntry>(ref entry), now, out decision, out _);
    }

    /// <summary>
    /// Answers an acquire without Redis when every one of its counters is known to be over its limit: then Redis would
    /// deny it at the first request, and every entry, the retry-after and the time are what Redis would report. An
    /// acquire with any counter not known to be over pays its round trip, since which request denies first and the
    /// longest retry-after depend on the counters this instance has not seen.
    /// The caller's time <paramref name="now"/> (Unix ms) names the window on the client clock.
    /// </summary>
    /// <param name="requests">The requests.</param>
    /// <param name="results">Their entries, or empty.</param>
    /// <param name="now">The caller's time, in Unix ms.</param>
    /// <param name="decision">The local denial, when the method returns true.</param>
    /// <param name="windowEndedAt">
    /// When the method returns false because every counter is over its limit but the server clock's window of some may
    /// be ending right now, and Redis could admit the acquire once they have: the local timestamp by which all of those
    /// windows have surely ended (see <see cref="RedisOverLimitCache"/>); else 0.
    /// </param>
    private bool TryDenyLocally(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, long now, out RateLimitDecision decision, out long windowEndedAt)
    {
        decision = default;
        windowEndedAt = 0;
        RedisOverLimitCache? cache = _overLimit;
        // An empty acquire (a message no rule applies to) is admitted by Redis; "every request is over" is vacuously true of it.
        if (cache is null || cache.Count == 0 || requests.Length == 0 || requests.Length > MaxLocalRequests)
        {
            return false;
        }

        long maxRetry = 0;
        long resetOfFirst = 0;
        long serverNowOfFirst = 0;
        bool deniedInAnyWindow = false;
        for (int i = 0; i < requests.Length; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            RateLimitRule rule = request.Rule;
            if (rule.Algorithm != RateLimitAlgorithm.FixedWindow)
            {
                windowEndedAt = 0;
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

            if (!cache.TryGetOver(request.Key, rule, WindowIndex(rule, now), out long count, out long resetAt, out long serverRetry, out long endedAt))
            {
                if (endedAt == 0)
                {
                    windowEndedAt = 0;
                    return false;
                }

                // Over its limit until a moment that may have passed: the others decide whether waiting for it helps,
                // and so does this one if no window holds what it asks.
                windowEndedAt = Math.Max(windowEndedAt, endedAt);
                deniedInAnyWindow |= pending + request.Cost > rule.Limit;
                continue;
            }

            deniedInAnyWindow = true;
            long retry = pending + request.Cost > rule.Limit ? -1 : _useServerTime ? serverRetry : rule.GetWindowEnd(now) - now;
            if (maxRetry >= 0 && (retry < 0 || retry > maxRetry))
            {
                maxRetry = retry;
            }

            if (i == 0)
            {
                resetOfFirst = resetAt;
                serverNowOfFirst = resetAt - serverRetry;
            }

            if (!results.IsEmpty)
            {
                results[i] = new RateLimitEntry(
                    false, count + pending, rule.Limit, retry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(retry), DateTimeOffset.FromUnixTimeMilliseconds(resetAt));
            }
        }

        if (windowEndedAt != 0)
        {
            // A counter surely over (or a cost no window holds) makes Redis deny whenever the acquire comes: waiting for
            // the other windows to end would only delay that denial, so it is sent at once.
            windowEndedAt = deniedInAnyWindow ? 0 : windowEndedAt;
            return false;
        }

        // Dated as Redis's reply would be. On the server clock a single acquire is dated inside its window by the app's
        // clock, as the single-key reply is; several by the server's TIME, as the acquire script dates them: the first
        // counter's window ends at its reported reset, and the time left until then is measured here since Redis
        // reported it, so their difference is the server's now, however far the app's clock is from it.
        long decidedAt = !_useServerTime
            ? now
            : requests.Length == 1
                ? Math.Clamp(now, resetOfFirst - requests[0].Rule.WindowMilliseconds, resetOfFirst - 1)
                : serverNowOfFirst;
        decision = new RateLimitDecision(
            RateLimitStatus.LimitExceeded, 0, maxRetry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(maxRetry), DateTimeOffset.FromUnixTimeMilliseconds(decidedAt))
        {
            AnsweredFromCache = true,
        };
        cache.RecordHit();
        return true;
    }

    /// <summary>
    /// Waits until every counter's window on the server clock has surely ended, then acquires as usual (asking the cache
    /// again, which an admission made meanwhile may have filled for the new window). Each of these counters is over its
    /// limit until its window ends, and the uncertainty about when that is on the local clock lasts at most the round
    /// trip that recorded it (bounded by the boundary wait): sent at once, the acquire would be denied by Redis for
    /// that short while, and the admission after it would be the window's second script.
    /// </summary>
    private async ValueTask<RateLimitDecision> AcquireOnceTheWindowEndedAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, long windowEndedAt, CancellationToken cancellationToken)
    {
        TimeSpan left = _timeProvider.GetElapsedTime(_timeProvider.GetTimestamp(), windowEndedAt);
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        _overLimit?.RecordBoundaryWait();
        return await AcquireAsync(requests, results, mayWaitForWindowEnd: false, cancellationToken).ConfigureAwait(false);
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
