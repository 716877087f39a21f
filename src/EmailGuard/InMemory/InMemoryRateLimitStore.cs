using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The embedded store: exact, thread-safe counters in this process. Decisions take one lock per counter (in a global
/// order, so multi-key acquires cannot deadlock) and allocate nothing once a counter exists.
/// </summary>
internal sealed class InMemoryRateLimitStore : IRateLimitStore
{
    private const long NeverSwept = long.MinValue;
    private const int SmallCallLength = 16;
    private const int MaxShapeAliases = 32;
    private const long RefundClaimGraceMs = 1000;

    private static readonly TimeSpan s_capacityRetryAfter = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_minimumCapacitySweepInterval = TimeSpan.FromSeconds(1);

    // One dictionary per rule shape, keyed by the partition key alone: string keys get the runtime's fast ordinal
    // hashing, which it switches to randomized hashing by itself if an attacker floods one bucket.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, InMemoryCounter>> _shapes = new();
    private readonly Lock _aliasLock = new();
    private volatile ShapeAlias[] _aliases = [];
    private readonly TimeProvider _timeProvider;
    private readonly bool _systemClock;
    private readonly int _maxTrackedKeys;
    private readonly long _sweepIntervalMs;
    private readonly Lock _sweepLock = new();
    private readonly InMemoryRefundLedger _refunds;
    private int _trackedKeys;
    private long _clockTick = long.MinValue;
    private long _clockMs = long.MinValue;
    private long _nextSweepMs;
    private long _lastCapacitySweepMs = NeverSwept;

    public InMemoryRateLimitStore(InMemoryRateLimitStoreOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxTrackedKeys, 1, nameof(options.MaxTrackedKeys));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SweepInterval, TimeSpan.FromMilliseconds(1), nameof(options.SweepInterval));

        _timeProvider = timeProvider;
        _systemClock = ReferenceEquals(timeProvider, TimeProvider.System);
        _maxTrackedKeys = options.MaxTrackedKeys;
        _sweepIntervalMs = (long)options.SweepInterval.TotalMilliseconds;
        _refunds = new InMemoryRefundLedger(options.MaxTrackedKeys);
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

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        RateLimitValidation.ValidateRequests(span, 0, allowZeroCost: false);
        long acquiredAtMs = decision.Timestamp.ToUnixTimeMilliseconds();
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
                lock (counter)
                {
                    // Acquisition ids and counter ids come from one sequence, drawn while the acquire held its
                    // counters: a counter with a larger id was created after the acquire (the old one was reset,
                    // swept or evicted) and holds none of its permits.
                    if (!counter.Removed && counter.Id < decision.AcquisitionId)
                    {
                        counter.Subtract(request.Rule, acquiredAtMs, request.Cost);
                    }
                }
            }
        }

        return new(true);
    }

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateKey(key, nameof(key));
        ArgumentNullException.ThrowIfNull(rule);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        ConcurrentDictionary<string, InMemoryCounter> counters = CountersOf(rule);
        if (counters.TryGetValue(key, out InMemoryCounter? counter))
        {
            lock (counter)
            {
                if (!counter.Removed && counters.TryRemove(new KeyValuePair<string, InMemoryCounter>(key, counter)))
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
        _refunds.Purge(now);
        lock (_sweepLock)
        {
            // Enumerating the dictionary itself takes no locks; its Values property would lock every bucket to copy.
            foreach (KeyValuePair<string, ConcurrentDictionary<string, InMemoryCounter>> shape in _shapes)
            {
                ConcurrentDictionary<string, InMemoryCounter> counters = shape.Value;
                foreach (KeyValuePair<string, InMemoryCounter> pair in counters)
                {
                    InMemoryCounter counter = pair.Value;
                    if (counter.ExpiresAtMs <= now && Monitor.TryEnter(counter))
                    {
                        try
                        {
                            if (!counter.Removed && counter.ExpiresAtMs <= now && counters.TryRemove(pair))
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
        }

        return removed;
    }

    /// <summary>
    /// The store's clock in Unix milliseconds. On the system clock, the wall clock is read at most once per tick of
    /// the OS's coarse monotonic clock (1 to 4 ms) and never goes backwards: reading the wall clock costs as much as
    /// the rest of a decision, and a clock stepped back must not reopen windows that are already full. Any other
    /// <see cref="TimeProvider"/> (a fake one in tests) is read on every call, so decisions stay exact to the
    /// millisecond there.
    /// </summary>
    private long NowMs()
    {
        if (!_systemClock)
        {
            return _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        }

        long tick = Environment.TickCount64;
        if (tick == Volatile.Read(ref _clockTick))
        {
            return Volatile.Read(ref _clockMs);
        }

        return ReadSystemClock(tick);
    }

    private long ReadSystemClock(long tick)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long seen = Volatile.Read(ref _clockMs);
        while (now > seen)
        {
            long previous = Interlocked.CompareExchange(ref _clockMs, now, seen);
            if (previous == seen)
            {
                break;
            }

            seen = previous;
        }

        Volatile.Write(ref _clockTick, tick);
        return Math.Max(now, Volatile.Read(ref _clockMs));
    }

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

                return counter.DecideAlone(request.Rule, request.Cost, now, commit, results);
            }
        }
    }

    private RateLimitDecision DecideMany(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long now)
    {
        int n = requests.Length;
        if (n <= SmallCallLength)
        {
            SmallCall counters = default;
            SmallCall order = default;
            return DecideMany(requests, results, commit, now, ((Span<InMemoryCounter?>)counters)[..n], ((Span<InMemoryCounter?>)order)[..n]);
        }

        InMemoryCounter?[] rentedCounters = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        InMemoryCounter?[] rentedOrder = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        try
        {
            return DecideMany(requests, results, commit, now, rentedCounters.AsSpan(0, n), rentedOrder.AsSpan(0, n));
        }
        finally
        {
            Array.Clear(rentedCounters, 0, n);
            Array.Clear(rentedOrder, 0, n);
            ArrayPool<InMemoryCounter?>.Shared.Return(rentedCounters);
            ArrayPool<InMemoryCounter?>.Shared.Return(rentedOrder);
        }
    }

    private RateLimitDecision DecideMany(
        ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long now, Span<InMemoryCounter?> counters, Span<InMemoryCounter?> order)
    {
        int n = requests.Length;
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

            // Lock in ascending counter id so that two multi-key acquires over the same counters cannot deadlock. A
            // static lambda is cached; an IComparer would be wrapped in a new delegate by every sort.
            order.Sort(static (x, y) => (x?.Id ?? 0).CompareTo(y?.Id ?? 0));
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
                    return EvaluateMany(requests, results, counters, commit, now);
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
                // The reset time depends on whether the call is admitted, so it is filled in below.
                results[i] = new RateLimitEntry(fits, before, request.Rule.Limit, entryRetry, default);
            }
        }

        bool admitted = deniedIndex < 0;
        if (admitted && commit)
        {
            for (int i = 0; i < n; i++)
            {
                counters[i]!.Add(requests[i].Rule, now, requests[i].Cost);
            }
        }

        if (!results.IsEmpty)
        {
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                InMemoryCounter? counter = counters[i];
                RateLimitEntry entry = results[i];

                // After a commit a counter expires exactly when everything it counts has left the window.
                long resetAt = admitted && commit
                    ? counter!.ExpiresAtMs
                    : counter?.ResetAtMs(request.Rule, now) ?? ResetAtEmpty(request.Rule, now);
                results[i] = admitted && commit
                    ? new RateLimitEntry(true, entry.Count + request.Cost, entry.Limit, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(resetAt))
                    : new RateLimitEntry(entry.IsAllowed, entry.Count, entry.Limit, entry.RetryAfter, WindowMath.FromUnixMilliseconds(resetAt));
            }
        }

        return new RateLimitDecision(
            admitted ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            deniedIndex,
            retryAfter,
            WindowMath.FromUnixMilliseconds(now),
            admitted && commit ? InMemoryCounter.NextAcquisitionId() : 0);
    }

    private static long LongestWindowMs(ReadOnlySpan<RateLimitRequest> requests)
    {
        long longest = 0;
        foreach (ref readonly RateLimitRequest request in requests)
        {
            longest = Math.Max(longest, request.Rule.WindowMilliseconds);
        }

        return longest;
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
              && string.Equals(requests[a].Rule.Id, requests[b].Rule.Id, StringComparison.Ordinal);

    private InMemoryCounter? Find(in RateLimitRequest request, bool create, long now)
    {
        ConcurrentDictionary<string, InMemoryCounter> counters = CountersOf(request.Rule);
        if (counters.TryGetValue(request.Key, out InMemoryCounter? counter) || !create)
        {
            return counter;
        }

        return Create(counters, request.Key, request.Rule, now);
    }

    private InMemoryCounter? Create(ConcurrentDictionary<string, InMemoryCounter> counters, string key, RateLimitRule rule, long now)
    {
        bool swept = false;
        while (!TryReserveSlot())
        {
            // The key may have been created by a concurrent caller that took the last slot; that is not a reason to deny.
            if (counters.TryGetValue(key, out InMemoryCounter? existing))
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
        InMemoryCounter winner = counters.GetOrAdd(key, created);
        if (!ReferenceEquals(winner, created))
        {
            Interlocked.Decrement(ref _trackedKeys);
        }

        return winner;
    }

    /// <summary>
    /// The counters of a rule shape. Rules are long-lived objects, so the shape is first looked up by the identity of the
    /// rule's <see cref="RateLimitRule.Id"/> string among a few remembered ones, which is cheaper than hashing it.
    /// </summary>
    private ConcurrentDictionary<string, InMemoryCounter> CountersOf(RateLimitRule rule)
    {
        string id = rule.Id;
        foreach (ShapeAlias alias in _aliases)
        {
            if (ReferenceEquals(alias.Id, id))
            {
                return alias.Counters;
            }
        }

        return CountersOfSlow(id);
    }

    private ConcurrentDictionary<string, InMemoryCounter> CountersOfSlow(string id)
    {
        ConcurrentDictionary<string, InMemoryCounter> counters = _shapes.GetOrAdd(id, static _ => new ConcurrentDictionary<string, InMemoryCounter>());
        if (_aliases.Length >= MaxShapeAliases)
        {
            return counters;
        }

        lock (_aliasLock)
        {
            // Bounded, so an app that builds a fresh rule per call only misses the shortcut, never grows this list.
            ShapeAlias[] aliases = _aliases;
            if (aliases.Length < MaxShapeAliases && !Array.Exists(aliases, alias => ReferenceEquals(alias.Id, id)))
            {
                _aliases = [.. aliases, new ShapeAlias(id, counters)];
            }
        }

        return counters;
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

    private readonly record struct ShapeAlias(string Id, ConcurrentDictionary<string, InMemoryCounter> Counters);

    /// <summary>Room for the counters of a typical multi-key acquire (a message to a few recipients) on the stack.</summary>
    [InlineArray(SmallCallLength)]
    private struct SmallCall
    {
        private InMemoryCounter? _first;
    }
}
