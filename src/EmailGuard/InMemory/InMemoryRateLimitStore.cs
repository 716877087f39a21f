using System.Buffers;
using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// The embedded store: exact, thread-safe counters in this process. Decisions take one lock per counter (in a global
/// order, so multi-key acquires cannot deadlock) and allocate nothing once a counter exists.
/// </summary>
internal sealed class InMemoryRateLimitStore : IRateLimitStore
{
    private const long NeverSwept = long.MinValue;

    private static readonly TimeSpan s_capacityRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_minimumCapacitySweepInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<CounterKey, InMemoryCounter> _counters = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _maxTrackedKeys;
    private readonly long _sweepIntervalMs;
    private readonly Lock _sweepLock = new();
    private int _trackedKeys;
    private long _nextSweepMs;
    private long _lastCapacitySweepMs = NeverSwept;

    public InMemoryRateLimitStore(InMemoryRateLimitStoreOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxTrackedKeys, 1, nameof(options.MaxTrackedKeys));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SweepInterval, TimeSpan.FromMilliseconds(1), nameof(options.SweepInterval));

        _timeProvider = timeProvider;
        _maxTrackedKeys = options.MaxTrackedKeys;
        _sweepIntervalMs = (long)options.SweepInterval.TotalMilliseconds;
        _nextSweepMs = NowMs() + _sweepIntervalMs;
    }

    /// <summary>The number of counters held now; never above the configured maximum.</summary>
    public int TrackedKeys => Volatile.Read(ref _trackedKeys);

    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        return new(Decide(requests.Span, results.Span, commit: true));
    }

    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        return new(Decide(requests.Span, results.Span, commit: false));
    }

    public ValueTask RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, DateTimeOffset acquiredAt, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        RateLimitValidation.ValidateRequests(span, 0, allowZeroCost: false);
        long acquiredAtMs = acquiredAt.ToUnixTimeMilliseconds();
        foreach (ref readonly RateLimitRequest request in span)
        {
            if (_counters.TryGetValue(new CounterKey(request.Key, request.Rule.Id), out InMemoryCounter? counter))
            {
                lock (counter)
                {
                    if (!counter.Removed)
                    {
                        counter.Subtract(request.Rule, acquiredAtMs, request.Cost);
                    }
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateKey(key, nameof(key));
        ArgumentNullException.ThrowIfNull(rule);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        CounterKey counterKey = new(key, rule.Id);
        if (_counters.TryGetValue(counterKey, out InMemoryCounter? counter))
        {
            lock (counter)
            {
                if (!counter.Removed && _counters.TryRemove(new KeyValuePair<CounterKey, InMemoryCounter>(counterKey, counter)))
                {
                    counter.Removed = true;
                    Interlocked.Decrement(ref _trackedKeys);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Reclaims every counter whose permits have all left their windows.</summary>
    internal int Sweep()
    {
        long now = NowMs();
        int removed = 0;
        lock (_sweepLock)
        {
            foreach (KeyValuePair<CounterKey, InMemoryCounter> pair in _counters)
            {
                InMemoryCounter counter = pair.Value;
                if (counter.ExpiresAtMs <= now && Monitor.TryEnter(counter))
                {
                    try
                    {
                        if (!counter.Removed && counter.ExpiresAtMs <= now && _counters.TryRemove(pair))
                        {
                            counter.Removed = true;
                            Interlocked.Decrement(ref _trackedKeys);
                            removed++;
                        }
                    }
                    finally
                    {
                        Monitor.Exit(counter);
                    }
                }
            }
        }

        return removed;
    }

    private long NowMs() => _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private RateLimitDecision Decide(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit)
    {
        RateLimitValidation.ValidateRequests(requests, results.Length, allowZeroCost: !commit);
        long now = NowMs();
        if (now >= Volatile.Read(ref _nextSweepMs))
        {
            ScheduleSweep(now);
        }

        if (requests.Length == 0)
        {
            return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(now));
        }

        return requests.Length == 1
            ? DecideOne(in requests[0], results, commit, now)
            : DecideMany(requests, results, commit, now);
    }

    private RateLimitDecision DecideOne(in RateLimitRequest request, Span<RateLimitEntry> results, bool commit, long now)
    {
        while (true)
        {
            InMemoryCounter? counter = Find(in request, create: commit, now);
            if (counter is null)
            {
                return commit
                    ? DenyForCapacity(in request, results, now)
                    : Evaluate(MemoryMarshalSingle(in request), results, null, commit: false, now);
            }

            lock (counter)
            {
                if (counter.Removed)
                {
                    continue;
                }

                return Evaluate(MemoryMarshalSingle(in request), results, counter, commit, now);
            }
        }
    }

    private RateLimitDecision DecideMany(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long now)
    {
        int n = requests.Length;
        InMemoryCounter?[] counters = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        InMemoryCounter?[] order = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        try
        {
            while (true)
            {
                for (int i = 0; i < n; i++)
                {
                    InMemoryCounter? counter = Find(in requests[i], create: commit, now);
                    if (counter is null && commit)
                    {
                        return DenyForCapacity(requests, results, i, now);
                    }

                    counters[i] = counter;
                    order[i] = counter;
                }

                // Lock in ascending counter id so that two multi-key acquires over the same counters cannot deadlock.
                SortById(order.AsSpan(0, n));
                int locked = 0;
                bool removed = false;
                try
                {
                    for (; locked < n; locked++)
                    {
                        InMemoryCounter? counter = order[locked];
                        if (counter is not null)
                        {
                            Monitor.Enter(counter);
                            removed |= counter.Removed;
                        }
                    }

                    if (!removed)
                    {
                        return EvaluateMany(requests, results, counters.AsSpan(0, n), commit, now);
                    }
                }
                finally
                {
                    for (int i = locked - 1; i >= 0; i--)
                    {
                        if (order[i] is { } counter)
                        {
                            Monitor.Exit(counter);
                        }
                    }
                }
            }
        }
        finally
        {
            Array.Clear(counters, 0, n);
            Array.Clear(order, 0, n);
            ArrayPool<InMemoryCounter?>.Shared.Return(counters);
            ArrayPool<InMemoryCounter?>.Shared.Return(order);
        }
    }

    /// <summary>
    /// Insertion sort for the usual handful of counters: Array.Sort with a comparer allocates a delegate per call,
    /// which the hot path cannot afford.
    /// </summary>
    private static void SortById(Span<InMemoryCounter?> counters)
    {
        if (counters.Length > 32)
        {
            counters.Sort(CounterIdComparer.Instance);
            return;
        }

        for (int i = 1; i < counters.Length; i++)
        {
            InMemoryCounter? current = counters[i];
            long id = current?.Id ?? 0;
            int j = i - 1;
            while (j >= 0 && (counters[j]?.Id ?? 0) > id)
            {
                counters[j + 1] = counters[j];
                j--;
            }

            counters[j + 1] = current;
        }
    }

    private static ReadOnlySpan<RateLimitRequest> MemoryMarshalSingle(in RateLimitRequest request)
        => new(in request);

    private static RateLimitDecision Evaluate(
        ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, InMemoryCounter? counter, bool commit, long now)
        => EvaluateMany(requests, results, new ReadOnlySpan<InMemoryCounter?>(in counter), commit, now);

    /// <summary>
    /// The decision itself, with every counter locked: check all, then take all or nothing. Costs of repeated counters
    /// add up ("pending"), exactly as the Redis script adds them.
    /// </summary>
    private static RateLimitDecision EvaluateMany(
        ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, ReadOnlySpan<InMemoryCounter?> counters, bool commit, long now)
    {
        int n = requests.Length;
        int deniedIndex = -1;
        TimeSpan retryAfter = TimeSpan.Zero;
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            InMemoryCounter? counter = counters[i];
            long pending = Pending(requests, counters, i);
            long before = (counter?.CountAt(request.Rule, now) ?? 0) + pending;
            long total = before + request.Cost;
            bool fits = total <= request.Rule.Limit;
            TimeSpan entryRetry = TimeSpan.Zero;
            if (!fits)
            {
                deniedIndex = deniedIndex < 0 ? i : deniedIndex;
                entryRetry = RetryAfter(counter, request.Rule, now, pending + request.Cost, total - request.Rule.Limit);
                retryAfter = entryRetry > retryAfter ? entryRetry : retryAfter;
            }

            if (!results.IsEmpty)
            {
                long resetAt = counter?.ResetAtMs(request.Rule, now) ?? ResetAtEmpty(request.Rule, now);
                results[i] = new RateLimitEntry(fits, before, request.Rule.Limit, entryRetry, WindowMath.FromUnixMilliseconds(resetAt));
            }
        }

        if (deniedIndex < 0 && commit)
        {
            for (int i = 0; i < n; i++)
            {
                counters[i]!.Add(requests[i].Rule, now, requests[i].Cost);
            }

            if (!results.IsEmpty)
            {
                for (int i = 0; i < n; i++)
                {
                    ref readonly RateLimitRequest request = ref requests[i];
                    results[i] = new RateLimitEntry(
                        true,
                        results[i].Count + request.Cost,
                        request.Rule.Limit,
                        TimeSpan.Zero,
                        WindowMath.FromUnixMilliseconds(counters[i]!.ResetAtMs(request.Rule, now)));
                }
            }
        }

        return new RateLimitDecision(
            deniedIndex < 0 ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            deniedIndex,
            retryAfter,
            WindowMath.FromUnixMilliseconds(now));
    }

    private static TimeSpan RetryAfter(InMemoryCounter? counter, RateLimitRule rule, long now, long wanted, long need)
    {
        if (wanted > rule.Limit)
        {
            return TimeSpan.MaxValue;
        }

        return counter is null
            ? TimeSpan.Zero
            : counter.RetryAfter(rule, now, need);
    }

    private static long ResetAtEmpty(RateLimitRule rule, long now)
        => rule.Algorithm == RateLimitAlgorithm.FixedWindow
            ? (WindowMath.FloorDiv(now, rule.WindowMilliseconds) + 1) * rule.WindowMilliseconds
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
              && string.Equals(requests[a].Rule.Id, requests[b].Rule.Id, StringComparison.Ordinal);

    private InMemoryCounter? Find(in RateLimitRequest request, bool create, long now)
    {
        CounterKey key = new(request.Key, request.Rule.Id);
        if (_counters.TryGetValue(key, out InMemoryCounter? counter) || !create)
        {
            return counter;
        }

        return Create(key, request.Rule, now);
    }

    private InMemoryCounter? Create(CounterKey key, RateLimitRule rule, long now)
    {
        bool swept = false;
        while (!TryReserveSlot())
        {
            // The key may have been created by a concurrent caller that took the last slot; that is not a reason to deny.
            if (_counters.TryGetValue(key, out InMemoryCounter? existing))
            {
                return existing;
            }

            if (swept || !TrySweepForCapacity(now))
            {
                return null;
            }

            swept = true;
        }

        InMemoryCounter created = new(rule);
        InMemoryCounter winner = _counters.GetOrAdd(key, created);
        if (!ReferenceEquals(winner, created))
        {
            Interlocked.Decrement(ref _trackedKeys);
        }

        return winner;
    }

    /// <summary>
    /// Takes one of the tracked-key slots. Compare-and-swap rather than increment-then-undo, so the count is never
    /// above the cap even for a moment.
    /// </summary>
    private bool TryReserveSlot()
    {
        int current = Volatile.Read(ref _trackedKeys);
        while (current < _maxTrackedKeys)
        {
            int seen = Interlocked.CompareExchange(ref _trackedKeys, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    /// <summary>
    /// At capacity, reclaims expired counters, at most once a second so that a flood of new keys cannot turn every
    /// request into a full scan. Returns whether room was made.
    /// </summary>
    private bool TrySweepForCapacity(long now)
    {
        long last = Volatile.Read(ref _lastCapacitySweepMs);

        // "now - NeverSwept" would overflow to a negative number and block the first capacity sweep forever.
        if ((last != NeverSwept && now - last < (long)s_minimumCapacitySweepInterval.TotalMilliseconds)
            || Interlocked.CompareExchange(ref _lastCapacitySweepMs, now, last) != last)
        {
            return false;
        }

        return Sweep() > 0;
    }

    private void ScheduleSweep(long now)
    {
        long next = Volatile.Read(ref _nextSweepMs);
        if (now >= next && Interlocked.CompareExchange(ref _nextSweepMs, now + _sweepIntervalMs, next) == next)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.Sweep(), this, preferLocal: false);
        }
    }

    private static RateLimitDecision DenyForCapacity(in RateLimitRequest request, Span<RateLimitEntry> results, long now)
        => DenyForCapacity(new ReadOnlySpan<RateLimitRequest>(in request), results, 0, now);

    private static RateLimitDecision DenyForCapacity(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, int index, long now)
    {
        if (!results.IsEmpty)
        {
            for (int i = 0; i < requests.Length; i++)
            {
                RateLimitRule rule = requests[i].Rule;
                results[i] = i == index
                    ? new RateLimitEntry(false, 0, rule.Limit, s_capacityRetryAfter, WindowMath.FromUnixMilliseconds(now + (long)s_capacityRetryAfter.TotalMilliseconds))
                    : new RateLimitEntry(true, 0, rule.Limit, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(now));
            }
        }

        return new RateLimitDecision(RateLimitStatus.LimitExceeded, index, s_capacityRetryAfter, WindowMath.FromUnixMilliseconds(now));
    }

    private readonly record struct CounterKey(string Key, string RuleId);

    private sealed class CounterIdComparer : IComparer<InMemoryCounter?>
    {
        public static readonly CounterIdComparer Instance = new();

        public int Compare(InMemoryCounter? x, InMemoryCounter? y) => (x?.Id ?? 0).CompareTo(y?.Id ?? 0);
    }
}
