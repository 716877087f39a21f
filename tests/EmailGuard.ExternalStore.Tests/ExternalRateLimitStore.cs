namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// A rate-limit store written only against EmailGuard's public extension surface, as a third party would write one
/// for its own backend: <see cref="RateLimitValidation"/> for the arguments, <see cref="RateLimitRule.ShapeId"/> to
/// name counters, and the rule's window math. Plain and slow on purpose (one lock, dictionaries); what matters is that
/// it passes the same contract suite as the shipped stores.
/// </summary>
public sealed class ExternalRateLimitStore(TimeProvider timeProvider) : IRateLimitStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string ShapeId, string Key), Counter> _counters = [];
    private readonly HashSet<long> _refunded = [];

    // Counters and acquisitions draw from one sequence: a counter younger than an acquisition cannot hold its permits.
    private long _lastId;

    /// <summary>Gets how many acquires reached this store; the end-to-end test reads it.</summary>
    public int Acquires { get; private set; }

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateAcquire(requests.Span, results.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        lock (_lock)
        {
            Acquires++;
            return new(Decide(requests.Span, results.Span, commit: true));
        }
    }

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidatePeek(requests.Span, results.Length);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        lock (_lock)
        {
            return new(Decide(requests.Span, results.Span, commit: false));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateRefund(requests.Span);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        long acquiredAt = decision.Timestamp.ToUnixTimeMilliseconds();
        lock (_lock)
        {
            if (!decision.IsRefundable || requests.IsEmpty || !_refunded.Add(decision.AcquisitionId))
            {
                return new(false);
            }

            foreach (RateLimitRequest request in requests.Span)
            {
                if (_counters.TryGetValue((request.Rule.ShapeId, request.Key), out Counter? counter) && counter.Id < decision.AcquisitionId)
                {
                    if (request.Rule.Algorithm == RateLimitAlgorithm.TokenBucket)
                    {
                        counter.RefundBucket(request.Rule, acquiredAt, request.Cost, timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
                        continue;
                    }

                    long slot = SlotOf(request.Rule, acquiredAt);
                    if (counter.Slots.TryGetValue(slot, out long count))
                    {
                        counter.Slots[slot] = Math.Max(0, count - request.Cost);
                    }
                }
            }

            return new(true);
        }
    }

    /// <inheritdoc />
    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateReset(key, rule);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        lock (_lock)
        {
            _counters.Remove((rule.ShapeId, key));
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>A fixed window counts in its window's slot; a sliding window in its segment's.</summary>
    private static long SlotOf(RateLimitRule rule, long nowMs)
        => rule.Algorithm == RateLimitAlgorithm.FixedWindow ? rule.GetWindowIndex(nowMs) : rule.GetSegmentIndex(nowMs);

    private RateLimitDecision Decide(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit)
    {
        long now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        int deniedIndex = -1;
        TimeSpan retryAfter = TimeSpan.Zero;
        long[] before = new long[requests.Length];
        for (int i = 0; i < requests.Length; i++)
        {
            RateLimitRequest request = requests[i];
            Counter? counter = _counters.GetValueOrDefault((request.Rule.ShapeId, request.Key));

            // Costs of earlier requests on the same counter in this call add up, as if they had been taken already.
            long pending = 0;
            for (int j = 0; j < i; j++)
            {
                if (requests[j].Key == request.Key && requests[j].Rule.ShapeId == request.Rule.ShapeId)
                {
                    pending += requests[j].Cost;
                }
            }

            before[i] = (counter?.CountAt(request.Rule, now) ?? 0) + pending;
            long total = before[i] + request.Cost;
            TimeSpan entryRetry = TimeSpan.Zero;
            if (total > request.Rule.Limit)
            {
                deniedIndex = deniedIndex < 0 ? i : deniedIndex;
                entryRetry = pending + request.Cost > request.Rule.Limit
                    ? TimeSpan.MaxValue
                    : counter?.RetryAfter(request.Rule, now, total - request.Rule.Limit) ?? TimeSpan.Zero;
                retryAfter = entryRetry > retryAfter ? entryRetry : retryAfter;
            }

            if (!results.IsEmpty)
            {
                results[i] = new RateLimitEntry(total <= request.Rule.Limit, before[i], request.Rule.Limit, entryRetry, ResetAt(counter, request.Rule, now));
            }
        }

        bool admitted = deniedIndex < 0;
        if (!admitted || !commit || requests.IsEmpty)
        {
            return new RateLimitDecision(
                admitted ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded, deniedIndex, retryAfter, DateTimeOffset.FromUnixTimeMilliseconds(now));
        }

        for (int i = 0; i < requests.Length; i++)
        {
            RateLimitRequest request = requests[i];
            if (!_counters.TryGetValue((request.Rule.ShapeId, request.Key), out Counter? counter))
            {
                counter = new Counter(++_lastId);
                _counters.Add((request.Rule.ShapeId, request.Key), counter);
            }

            counter.Add(request.Rule, now, request.Cost);
            if (!results.IsEmpty)
            {
                // After an admission everything the counter holds leaves the window when the current slot does.
                long expires = request.Rule.Algorithm == RateLimitAlgorithm.FixedWindow
                    ? request.Rule.GetWindowEnd(now)
                    : (request.Rule.GetSegmentIndex(now) + request.Rule.Segments + 1) * request.Rule.SegmentMilliseconds;
                results[i] = new RateLimitEntry(true, before[i] + request.Cost, request.Rule.Limit, TimeSpan.Zero, DateTimeOffset.FromUnixTimeMilliseconds(expires));
            }
        }

        // A bucket is full again at its arrival time after every request of the call on it.
        for (int i = 0; i < requests.Length && !results.IsEmpty; i++)
        {
            RateLimitRequest request = requests[i];
            if (request.Rule.Algorithm == RateLimitAlgorithm.TokenBucket)
            {
                results[i] = new RateLimitEntry(
                    true, before[i] + request.Cost, request.Rule.Limit, TimeSpan.Zero, ResetAt(_counters[(request.Rule.ShapeId, request.Key)], request.Rule, now));
            }
        }

        return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, DateTimeOffset.FromUnixTimeMilliseconds(now), ++_lastId);
    }

    /// <summary>When everything counted now has left the window; now itself for an empty sliding window.</summary>
    private static DateTimeOffset ResetAt(Counter? counter, RateLimitRule rule, long now)
    {
        if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
        {
            long tat = counter?.TatFor(rule, now) ?? long.MinValue;
            return DateTimeOffset.FromUnixTimeMilliseconds(tat > now * 1000 ? (tat + 999) / 1000 : now);
        }

        if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(rule.GetWindowEnd(now));
        }

        long current = rule.GetSegmentIndex(now);
        long newest = long.MinValue;
        foreach ((long segment, long count) in counter?.Slots ?? [])
        {
            if (segment >= current - rule.Segments && segment <= current && count > 0 && segment > newest)
            {
                newest = segment;
            }
        }

        return DateTimeOffset.FromUnixTimeMilliseconds(newest == long.MinValue ? now : (newest + rule.Segments + 1) * rule.SegmentMilliseconds);
    }

    /// <summary>One key under one rule shape: permits by window (fixed) or by segment (sliding).</summary>
    private sealed class Counter(long id)
    {
        public long Id { get; } = id;

        public SortedDictionary<long, long> Slots { get; } = [];

        /// <summary>A token bucket's theoretical arrival time in Unix µs: when it is full again (GCRA).</summary>
        public long Tat { get; private set; } = long.MinValue / 4;

        /// <summary>The <see cref="RateLimitRule.BucketIntervalMicroseconds"/> <see cref="Tat"/> was written under.</summary>
        public long BucketUs { get; private set; }

        /// <summary>
        /// The arrival time as <paramref name="rule"/> reads it: written under another bucket interval (the bucket's
        /// limit, burst or rate changed), the permits it holds back stay held back under the new one, up to the longer
        /// of the new full refill and the time already owed. A reduced rule (same bucket interval) reads it as a time.
        /// </summary>
        public long TatFor(RateLimitRule rule, long now)
        {
            long nowUs = now * 1000;
            long toUs = rule.BucketIntervalMicroseconds;
            if (BucketUs == 0 || BucketUs == toUs || Tat <= nowUs)
            {
                return Tat;
            }

            long owed = Tat - nowUs;
            long spent = (owed + BucketUs - 1) / BucketUs;
            long cap = Math.Max(owed, rule.Limit * rule.EmissionIntervalMicroseconds);
            return nowUs + (spent > cap / toUs ? cap : spent * toUs);
        }

        /// <summary>A refund moves the arrival time back, never before now, and only within the bucket's refill time of the acquire.</summary>
        public void RefundBucket(RateLimitRule rule, long acquiredAt, long cost, long now)
        {
            long refillMs = ((rule.Limit * rule.EmissionIntervalMicroseconds) + 999) / 1000;
            long taken = Math.Min(cost, rule.Limit);
            long back = Tat - (taken * rule.EmissionIntervalMicroseconds);

            // Permits queued behind these (the TAT more than a burst past the acquire) keep their slots.
            if (BucketUs == rule.BucketIntervalMicroseconds && Tat > now * 1000 && now < acquiredAt + refillMs && back <= (acquiredAt * 1000) + ((rule.Limit - taken) * rule.EmissionIntervalMicroseconds))
            {
                Tat = Math.Max(back, now * 1000);
            }
        }

        /// <summary>A fixed window counts its current window; a sliding window the S + 1 segments that overlap the trailing window.</summary>
        public long CountAt(RateLimitRule rule, long now)
        {
            if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
            {
                long ahead = TatFor(rule, now) - (now * 1000);
                return ahead <= 0 ? 0 : (ahead + rule.EmissionIntervalMicroseconds - 1) / rule.EmissionIntervalMicroseconds;
            }

            long current = SlotOf(rule, now);
            long oldest = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? current : current - rule.Segments;
            long sum = 0;
            foreach ((long slot, long count) in Slots)
            {
                if (slot >= oldest && slot <= current)
                {
                    sum += count;
                }
            }

            return sum;
        }

        /// <summary>How long until <paramref name="need"/> permits leave the window.</summary>
        public TimeSpan RetryAfter(RateLimitRule rule, long now, long need)
        {
            if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
            {
                long wait = Math.Max(TatFor(rule, now), now * 1000) - ((CountAt(rule, now) - need) * rule.EmissionIntervalMicroseconds) - (now * 1000);
                return TimeSpan.FromMilliseconds((wait + 999) / 1000);
            }

            if (rule.Algorithm == RateLimitAlgorithm.FixedWindow)
            {
                return TimeSpan.FromMilliseconds(rule.GetWindowEnd(now) - now);
            }

            long current = rule.GetSegmentIndex(now);
            long freed = 0;
            foreach ((long segment, long count) in Slots)
            {
                if (segment >= current - rule.Segments && segment <= current)
                {
                    freed += count;
                    if (freed >= need)
                    {
                        return TimeSpan.FromMilliseconds(((segment + rule.Segments + 1) * rule.SegmentMilliseconds) - now);
                    }
                }
            }

            return TimeSpan.MaxValue;
        }

        public void Add(RateLimitRule rule, long now, long cost)
        {
            if (rule.Algorithm == RateLimitAlgorithm.TokenBucket)
            {
                Tat = Math.Max(TatFor(rule, now), now * 1000) + (cost * rule.EmissionIntervalMicroseconds);
                BucketUs = rule.BucketIntervalMicroseconds;
                return;
            }

            long current = SlotOf(rule, now);
            long oldest = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? current : current - rule.Segments;

            // Slots that no longer count go, so a counter holds at most S + 1 of them.
            foreach (long slot in Slots.Keys.Where(s => s < oldest).ToList())
            {
                Slots.Remove(slot);
            }

            Slots[current] = Slots.GetValueOrDefault(current) + cost;
        }
    }
}
