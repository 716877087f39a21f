using System.Diagnostics;

namespace EmailGuard;

/// <summary>The decision of a call with everything it touches locked: check all, then take all or nothing.</summary>
internal sealed partial class InMemoryRateLimitStore
{
    /// <summary>
    /// The decision itself, with every counter and every shape of a key without counter locked: check all, then take
    /// all or nothing. Costs of repeated counters add up ("pending"), exactly as the Redis script adds them. A key
    /// without a counter counts what its shape's overflow sketch says (nothing when there is none); if the call is
    /// admitted it gets a counter, or, when the store is full, is counted in the sketch. A tally
    /// (<see cref="RateLimitRule.IsTally"/>) never meets the sketch: without a counter it counts 0, and when the store is
    /// full it stays uncounted.
    /// </summary>
    /// <remarks>
    /// Token buckets are decided at <paramref name="now"/>, the time the decision is for; fixed and sliding windows at
    /// <paramref name="windowsAt"/>, the store's clock. The two differ only for a reservation admitted ahead, where a
    /// window rule that can deny lies in the same window or segment at both (see <see cref="MovesAWindow"/>), and a
    /// counter (<see cref="RateLimitRule.IsCounter"/>) counts at the decision's time, in the segment that holds it now.
    /// <paramref name="distinct"/> says the call locked no object twice: no two requests share a counter or a shape,
    /// so no request has costs of earlier ones pending on its counter and the search for them is skipped.
    /// </remarks>
    private RateLimitDecision EvaluateMany(
        ReadOnlySpan<RateLimitRequest> requests,
        Span<RateLimitEntry> results,
        Span<InMemoryCounter?> counters,
        ReadOnlySpan<InMemoryShape?> absent,
        bool commit,
        long now,
        long windowsAt,
        ref bool overflowed,
        bool distinct = false)
    {
        int n = requests.Length;
        int deniedIndex = -1;
        TimeSpan retryAfter = TimeSpan.Zero;
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            InMemoryCounter? counter = counters[i];
            InMemoryOverflowSketch? sketch = SketchOf(in request, absent[i]);
            overflowed |= sketch is not null && commit;
            long at = TimeOf(request.Rule, now, windowsAt);
            sketch?.Follow(request.Rule, at);
            long pending = distinct ? 0 : Pending(requests, counters, i);
            long before = (counter?.CountAt(request.Rule, at) ?? sketch?.CountAt(request.Key, at) ?? 0) + pending;
            long total = before + request.Cost;
            bool fits = total <= request.Rule.Limit;
            TimeSpan entryRetry = TimeSpan.Zero;
            if (!fits)
            {
                deniedIndex = deniedIndex < 0 ? i : deniedIndex;
                entryRetry = RetryAfter(counter, sketch, in request, at, pending + request.Cost, total - request.Rule.Limit);
                retryAfter = entryRetry > retryAfter ? entryRetry : retryAfter;
            }

            if (!results.IsEmpty)
            {
                // The reset time depends on whether the call is admitted, so it is filled in below.
                results[i] = new RateLimitEntry(fits, before, request.Rule.Limit, entryRetry, default);
            }
        }

        bool admitted = deniedIndex < 0;
        bool committed = admitted && commit;
        if (committed)
        {
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                long at = TimeOf(request.Rule, now, windowsAt);
                if (counters[i] is null && absent[i] is { } shape)
                {
                    counters[i] = CounterForNewKey(requests, counters, absent, i, at);
                    if (counters[i] is null)
                    {
                        if (!request.Rule.IsTally)
                        {
                            (shape.Sketch ??= new InMemoryOverflowSketch(request.Rule, _sketchWidth)).Add(request.Key, at, request.Cost);
                        }

                        overflowed = true;
                        continue;
                    }
                }

                counters[i]!.Add(request.Rule, at, request.Cost);
            }
        }

        if (!results.IsEmpty)
        {
            // Rules of one window length end their windows together, so most entries of a call share a reset time:
            // it is converted once, not once per entry.
            long lastResetAt = long.MinValue;
            DateTimeOffset lastReset = default;
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                InMemoryCounter? counter = counters[i];
                InMemoryOverflowSketch? sketch = SketchOf(in request, absent[i]);
                RateLimitEntry entry = results[i];
                long at = TimeOf(request.Rule, now, windowsAt);

                // After a commit a counter expires exactly when everything it counts has left the window.
                long resetAt = committed
                    ? counter?.ExpiresAtMs ?? sketch?.ExpiresAtMsAfterAdd(request.Key, at) ?? ResetAtEmpty(request.Rule, at)
                    : counter?.ResetAtMs(request.Rule, at) ?? sketch?.ResetAtMs(request.Key, at) ?? ResetAtEmpty(request.Rule, at);
                if (resetAt != lastResetAt)
                {
                    lastReset = WindowMath.FromUnixMilliseconds(resetAt);
                    lastResetAt = resetAt;
                }

                results[i] = committed
                    ? new RateLimitEntry(true, entry.Count + request.Cost, entry.Limit, TimeSpan.Zero, lastReset)
                    : new RateLimitEntry(entry.IsAllowed, entry.Count, entry.Limit, entry.RetryAfter, lastReset);
            }
        }

        if (committed)
        {
            Publish(requests, counters, absent);
        }

        RateLimitDecision decision = new(
            admitted ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            deniedIndex,
            retryAfter,
            WindowMath.FromUnixMilliseconds(now),
            admitted && commit ? InMemoryLock.NextAcquisitionId() : 0);
        return windowsAt == now ? decision : decision with { DecidedAt = WindowMath.FromUnixMilliseconds(windowsAt) };
    }

    /// <summary>
    /// <see cref="EvaluateMany"/> for the common call, a committing acquire at the store's clock in which every key has
    /// its counter and no two requests share one: checks every counter, then counts and answers each in one pass. A call
    /// that does not fit goes to <see cref="EvaluateMany"/> with nothing changed. Each counter is read, counted and read
    /// back by the same methods in the same order as there, so the answers are the same; a loop of its own lets the JIT
    /// keep it in registers, where the general one (sketches, pending costs, new counters, three passes) spilled every
    /// value to the stack on every check.
    /// </summary>
    private RateLimitDecision EvaluateCounted(
        ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, Span<InMemoryCounter?> counters, ReadOnlySpan<InMemoryShape?> absent, long now, ref bool overflowed)
    {
        Debug.Assert(requests.Length <= SmallCallLength && results.Length >= requests.Length, "A small call with its results.");
        int n = requests.Length;
        Span<long> before = stackalloc long[SmallCallLength];
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            long count = counters[i]!.CountAt(request.Rule, now);
            if (count + request.Cost > request.Rule.Limit)
            {
                return EvaluateMany(requests, results, counters, absent, commit: true, now, now, ref overflowed, distinct: true);
            }

            before[i] = count;
        }

        long lastResetAt = long.MinValue;
        DateTimeOffset lastReset = default;
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            InMemoryCounter counter = counters[i]!;
            counter.Add(request.Rule, now, request.Cost);
            long resetAt = counter.ExpiresAtMs;
            if (resetAt != lastResetAt)
            {
                lastReset = WindowMath.FromUnixMilliseconds(resetAt);
                lastResetAt = resetAt;
            }

            results[i] = new RateLimitEntry(true, before[i] + request.Cost, request.Rule.Limit, TimeSpan.Zero, lastReset);
        }

        return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(now), InMemoryLock.NextAcquisitionId());
    }

    /// <summary>
    /// The overflow sketch that counts a request without a counter: its shape's, but none for a tally
    /// (<see cref="RateLimitRule.IsTally"/>), which the sketch would over-count.
    /// </summary>
    private static InMemoryOverflowSketch? SketchOf(in RateLimitRequest request, InMemoryShape? absent)
        => absent is null || request.Rule.IsTally ? null : absent.Sketch;

    /// <summary>When a request of a call decided at <paramref name="now"/> counts: a window rule at <paramref name="windowsAt"/>.</summary>
    private static long TimeOf(RateLimitRule rule, long now, long windowsAt) => rule.Algorithm == RateLimitAlgorithm.TokenBucket ? now : windowsAt;

    /// <summary>
    /// The counter for an admitted key that had none: the one an earlier request of this call created for the same key,
    /// else a new one if a slot is free, seeded with what the shape's sketch counts for the key. Null when the store
    /// is full (or an earlier request of the call found it full), and the key is counted in the sketch.
    /// </summary>
    private InMemoryCounter? CounterForNewKey(
        ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<InMemoryCounter?> counters, ReadOnlySpan<InMemoryShape?> absent, int index, long now)
    {
        ref readonly RateLimitRequest request = ref requests[index];
        InMemoryShape shape = absent[index]!;
        for (int j = 0; j < index; j++)
        {
            if (ReferenceEquals(absent[j], shape) && string.Equals(requests[j].Key, request.Key, StringComparison.Ordinal))
            {
                return counters[j];
            }
        }

        if (!TryReserveSlot())
        {
            return null;
        }

        InMemoryCounter created = new(request.Rule, request.Key);
        SketchOf(in request, shape)?.Seed(created, request.Rule, request.Key, now);
        return created;
    }

    /// <summary>
    /// Makes new counters visible, once everything is written to them: until then no other caller can find them, so they
    /// need no lock of their own. The shape stays locked, and only a caller holding it adds counters, so each add succeeds.
    /// </summary>
    private static void Publish(ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<InMemoryCounter?> counters, ReadOnlySpan<InMemoryShape?> absent)
    {
        for (int i = 0; i < requests.Length; i++)
        {
            if (absent[i] is { } shape && counters[i] is { } created)
            {
                InMemoryCounter stored = shape.Counters.GetOrAdd(requests[i].Key, created);
                Debug.Assert(ReferenceEquals(stored, created), "Counters are only added with their shape locked.");
            }
        }
    }

    private static TimeSpan RetryAfter(InMemoryCounter? counter, InMemoryOverflowSketch? sketch, in RateLimitRequest request, long now, long wanted, long need)
    {
        if (wanted > request.Rule.Limit)
        {
            return TimeSpan.MaxValue;
        }

        return counter?.RetryAfter(request.Rule, now, need) ?? sketch?.RetryAfter(request.Key, now, need) ?? TimeSpan.Zero;
    }

    private static long ResetAtEmpty(RateLimitRule rule, long now)
        => rule.Algorithm == RateLimitAlgorithm.FixedWindow
            ? WindowMath.FixedWindowEnd(now, rule.WindowMilliseconds)
            : now;

    /// <summary>The costs of earlier requests on the same counter.</summary>
    private static long Pending(ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<InMemoryCounter?> counters, int index)
    {
        long pending = 0;
        for (int j = 0; j < index; j++)
        {
            if (SameCounter(requests, counters, j, index))
            {
                pending += requests[j].Cost;
            }
        }

        return pending;
    }

    private static bool SameCounter(ReadOnlySpan<RateLimitRequest> requests, ReadOnlySpan<InMemoryCounter?> counters, int a, int b)
        => counters[a] is { } counter
            ? ReferenceEquals(counter, counters[b])
            : counters[b] is null
              && string.Equals(requests[a].Key, requests[b].Key, StringComparison.Ordinal)
              && string.Equals(requests[a].Rule.ShapeId, requests[b].Rule.ShapeId, StringComparison.Ordinal);
}
