using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The embedded store: exact, thread-safe counters in this process. Decisions take one lock per counter (in a global
/// order, so multi-key acquires cannot deadlock) and allocate nothing once a counter exists.
/// </summary>
/// <remarks>
/// Memory is bounded by <see cref="InMemoryRateLimitStoreOptions.MaxTrackedKeys"/> without locking anyone out: a key
/// gets a counter only when an acquire on it is admitted, and when the store is full new keys are counted in a
/// fixed-size overflow sketch per rule shape (<see cref="InMemoryOverflowSketch"/>), which can only over-count.
/// Existing counters are never evicted early, so a flood of new keys cannot reset anyone's limit.
/// </remarks>
internal sealed partial class InMemoryRateLimitStore : IRateLimitStore
{
    /// <summary>The name of the store the app configured, in metrics and logs.</summary>
    public const string PrimaryName = "in_memory";

    /// <summary>The name of the store behind <see cref="StoreFailureMode.LocalFallback"/>, in metrics and logs.</summary>
    public const string LocalFallbackName = "local_fallback";

    private const long NeverSwept = long.MinValue;
    private const int SmallCallLength = 16;
    private const int MaxShapeAliases = 32;
    private const long RefundClaimGraceMs = 1000;

    private static readonly TimeSpan s_minimumCapacitySweepInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, InMemoryShape> _shapes = new();
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
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;
    private readonly int _sketchWidth;
    private long _overflowDecisions;
    private int _fullLogged;

    /// <param name="options">The options.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="logger">Logs when the store fills up.</param>
    /// <param name="metrics">Reports tracked keys and overflow decisions.</param>
    /// <param name="name">The store's name in metrics and logs: <see cref="PrimaryName"/> or <see cref="LocalFallbackName"/>.</param>
    public InMemoryRateLimitStore(
        InMemoryRateLimitStoreOptions options,
        TimeProvider timeProvider,
        ILogger? logger = null,
        EmailGuardMetrics? metrics = null,
        string name = PrimaryName)
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
        _sketchWidth = InMemoryOverflowSketch.WidthFor(_maxTrackedKeys);
        _name = name;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics;
        _metrics?.ObserveInMemoryStore(this);
    }

    /// <summary>The store's name in metrics and logs.</summary>
    public string Name => _name;

    /// <summary>The number of counters held now; never above the configured maximum.</summary>
    public int TrackedKeys => Volatile.Read(ref _trackedKeys);

    /// <summary>The acquires so far that decided at least one key in an overflow sketch because the store was full.</summary>
    public long OverflowDecisions => Interlocked.Read(ref _overflowDecisions);

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

    /// <summary>Reclaims every counter whose permits have all left their windows, and overflow sketches that hold nothing.</summary>
    internal int Sweep()
    {
        long now = NowMs();
        int removed = 0;
        _refunds.Purge(now);
        lock (_sweepLock)
        {
            // Enumerating the dictionary itself takes no locks; its Values property would lock every bucket to copy.
            foreach (KeyValuePair<string, InMemoryShape> pair in _shapes)
            {
                removed += SweepShape(pair.Value, now);
            }
        }

        // Re-arm the "store is full" warning only well below the cap, so a store hovering at the cap logs once.
        if (Volatile.Read(ref _trackedKeys) <= _maxTrackedKeys - (_maxTrackedKeys / 4))
        {
            Volatile.Write(ref _fullLogged, 0);
        }

        return removed;
    }

    private int SweepShape(InMemoryShape shape, long now)
    {
        ConcurrentDictionary<string, InMemoryCounter> counters = shape.Counters;
        int removed = 0;
        foreach (KeyValuePair<string, InMemoryCounter> pair in counters)
        {
            InMemoryCounter counter = pair.Value;

            // TryEnter, never Enter: a capacity sweep runs on a deciding thread, and must not wait on a lock.
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

        if (shape.Sketch is not null && Monitor.TryEnter(shape))
        {
            try
            {
                if (shape.Sketch?.HoldsNothingAt(now) == true)
                {
                    shape.Sketch = null;
                }
            }
            finally
            {
                Monitor.Exit(shape);
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
        InMemoryShape shape = ShapeOf(request.Rule);
        while (true)
        {
            if (shape.Counters.TryGetValue(request.Key, out InMemoryCounter? counter))
            {
                lock (counter)
                {
                    if (counter.Removed)
                    {
                        continue;
                    }

                    return counter.DecideAlone(request.Rule, request.Cost, now, commit, results);
                }
            }

            if (commit)
            {
                MakeRoom(now);
            }

            RateLimitDecision decision;
            bool overflowed = false;
            lock (shape)
            {
                if (shape.Counters.ContainsKey(request.Key))
                {
                    continue;
                }

                InMemoryCounter? created = null;
                InMemoryShape? absent = shape;
                decision = EvaluateMany(
                    new ReadOnlySpan<RateLimitRequest>(in request), results, new Span<InMemoryCounter?>(ref created), new ReadOnlySpan<InMemoryShape?>(in absent), commit, now, ref overflowed);
            }

            if (overflowed)
            {
                OnOverflow();
            }

            return decision;
        }
    }

    private RateLimitDecision DecideMany(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, bool commit, long now)
    {
        int n = requests.Length;
        if (n <= SmallCallLength)
        {
            SmallCall<InMemoryCounter?> counters = default;
            SmallCall<InMemoryShape?> absent = default;
            SmallCall<InMemoryLock?> order = default;
            return DecideMany(
                requests,
                results,
                commit,
                now,
                ((Span<InMemoryCounter?>)counters)[..n],
                ((Span<InMemoryShape?>)absent)[..n],
                ((Span<InMemoryLock?>)order)[..n]);
        }

        InMemoryCounter?[] rentedCounters = ArrayPool<InMemoryCounter?>.Shared.Rent(n);
        InMemoryShape?[] rentedAbsent = ArrayPool<InMemoryShape?>.Shared.Rent(n);
        InMemoryLock?[] rentedOrder = ArrayPool<InMemoryLock?>.Shared.Rent(n);
        try
        {
            return DecideMany(requests, results, commit, now, rentedCounters.AsSpan(0, n), rentedAbsent.AsSpan(0, n), rentedOrder.AsSpan(0, n));
        }
        finally
        {
            Array.Clear(rentedCounters, 0, n);
            Array.Clear(rentedAbsent, 0, n);
            Array.Clear(rentedOrder, 0, n);
            ArrayPool<InMemoryCounter?>.Shared.Return(rentedCounters);
            ArrayPool<InMemoryShape?>.Shared.Return(rentedAbsent);
            ArrayPool<InMemoryLock?>.Shared.Return(rentedOrder);
        }
    }

    /// <summary>
    /// A call over several keys. Keys with a counter lock it; keys without one lock their shape, which is where they are
    /// decided and where their counter is created if the call is admitted. Everything is locked in ascending id order,
    /// so two multi-key acquires over the same keys cannot deadlock.
    /// </summary>
    private RateLimitDecision DecideMany(
        ReadOnlySpan<RateLimitRequest> requests,
        Span<RateLimitEntry> results,
        bool commit,
        long now,
        Span<InMemoryCounter?> counters,
        Span<InMemoryShape?> absent,
        Span<InMemoryLock?> order)
    {
        int n = requests.Length;
        while (true)
        {
            bool anyAbsent = false;
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                InMemoryShape shape = ShapeOf(request.Rule);
                if (shape.Counters.TryGetValue(request.Key, out InMemoryCounter? counter))
                {
                    counters[i] = counter;
                    absent[i] = null;
                    order[i] = counter;
                }
                else
                {
                    counters[i] = null;
                    absent[i] = shape;
                    order[i] = shape;
                    anyAbsent = true;
                }
            }

            if (anyAbsent && commit)
            {
                MakeRoom(now);
            }

            // A static lambda is cached; an IComparer would be wrapped in a new delegate by every sort.
            order.Sort(static (x, y) => x!.Id.CompareTo(y!.Id));
            int locked = 0;
            bool overflowed = false;
            RateLimitDecision? decision = null;
            try
            {
                bool stale = false;
                for (; locked < n; locked++)
                {
                    InMemoryLock held = order[locked]!;
                    Monitor.Enter(held);
                    stale |= held is InMemoryCounter { Removed: true };
                }

                for (int i = 0; i < n && !stale; i++)
                {
                    stale = absent[i] is { } shape && shape.Counters.ContainsKey(requests[i].Key);
                }

                if (!stale)
                {
                    decision = EvaluateMany(requests, results, counters, absent, commit, now, ref overflowed);
                }
            }
            finally
            {
                for (int i = locked - 1; i >= 0; i--)
                {
                    Monitor.Exit(order[i]!);
                }
            }

            if (decision is { } decided)
            {
                if (overflowed)
                {
                    OnOverflow();
                }

                return decided;
            }
        }
    }

    /// <summary>
    /// The decision itself, with every counter and every shape of a key without counter locked: check all, then take
    /// all or nothing. Costs of repeated counters add up ("pending"), exactly as the Redis script adds them. A key
    /// without a counter counts what its shape's overflow sketch says (nothing when there is none); if the call is
    /// admitted it gets a counter, or, when the store is full, is counted in the sketch.
    /// </summary>
    private RateLimitDecision EvaluateMany(
        ReadOnlySpan<RateLimitRequest> requests,
        Span<RateLimitEntry> results,
        Span<InMemoryCounter?> counters,
        ReadOnlySpan<InMemoryShape?> absent,
        bool commit,
        long now,
        ref bool overflowed)
    {
        int n = requests.Length;
        int deniedIndex = -1;
        TimeSpan retryAfter = TimeSpan.Zero;
        for (int i = 0; i < n; i++)
        {
            ref readonly RateLimitRequest request = ref requests[i];
            InMemoryCounter? counter = counters[i];
            InMemoryOverflowSketch? sketch = absent[i]?.Sketch;
            overflowed |= sketch is not null && commit;
            long pending = Pending(requests, counters, i);
            long before = (counter?.CountAt(request.Rule, now) ?? sketch?.CountAt(request.Key, now) ?? 0) + pending;
            long total = before + request.Cost;
            bool fits = total <= request.Rule.Limit;
            TimeSpan entryRetry = TimeSpan.Zero;
            if (!fits)
            {
                deniedIndex = deniedIndex < 0 ? i : deniedIndex;
                entryRetry = RetryAfter(counter, sketch, in request, now, pending + request.Cost, total - request.Rule.Limit);
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
                if (counters[i] is null && absent[i] is { } shape)
                {
                    counters[i] = CounterForNewKey(requests, counters, absent, i, now);
                    if (counters[i] is null)
                    {
                        (shape.Sketch ??= new InMemoryOverflowSketch(request.Rule, _sketchWidth)).Add(request.Key, now, request.Cost);
                        overflowed = true;
                        continue;
                    }
                }

                counters[i]!.Add(request.Rule, now, request.Cost);
            }
        }

        if (!results.IsEmpty)
        {
            for (int i = 0; i < n; i++)
            {
                ref readonly RateLimitRequest request = ref requests[i];
                InMemoryCounter? counter = counters[i];
                InMemoryOverflowSketch? sketch = absent[i]?.Sketch;
                RateLimitEntry entry = results[i];

                // After a commit a counter expires exactly when everything it counts has left the window.
                long resetAt = committed
                    ? counter?.ExpiresAtMs ?? sketch!.ExpiresAtMsAfterAdd(now)
                    : counter?.ResetAtMs(request.Rule, now) ?? sketch?.ResetAtMs(request.Key, now) ?? ResetAtEmpty(request.Rule, now);
                results[i] = committed
                    ? new RateLimitEntry(true, entry.Count + request.Cost, entry.Limit, TimeSpan.Zero, WindowMath.FromUnixMilliseconds(resetAt))
                    : new RateLimitEntry(entry.IsAllowed, entry.Count, entry.Limit, entry.RetryAfter, WindowMath.FromUnixMilliseconds(resetAt));
            }
        }

        if (committed)
        {
            Publish(requests, counters, absent);
        }

        return new RateLimitDecision(
            admitted ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            deniedIndex,
            retryAfter,
            WindowMath.FromUnixMilliseconds(now),
            admitted && commit ? InMemoryLock.NextAcquisitionId() : 0);
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

        InMemoryCounter created = new(request.Rule);
        shape.Sketch?.Seed(created, request.Rule, request.Key, now);
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

    /// <summary>The counters of a rule's shape.</summary>
    private ConcurrentDictionary<string, InMemoryCounter> CountersOf(RateLimitRule rule) => ShapeOf(rule).Counters;

    /// <summary>
    /// The shape of a rule. Rules are long-lived objects, so the shape is first looked up by the identity of the rule's
    /// <see cref="RateLimitRule.ShapeId"/> string among a few remembered ones, which is cheaper than hashing it.
    /// </summary>
    private InMemoryShape ShapeOf(RateLimitRule rule)
    {
        string id = rule.ShapeId;
        foreach (ShapeAlias alias in _aliases)
        {
            if (ReferenceEquals(alias.Id, id))
            {
                return alias.Shape;
            }
        }

        return ShapeOfSlow(id);
    }

    private InMemoryShape ShapeOfSlow(string id)
    {
        InMemoryShape shape = _shapes.GetOrAdd(id, static _ => new InMemoryShape());
        if (_aliases.Length >= MaxShapeAliases)
        {
            return shape;
        }

        lock (_aliasLock)
        {
            // Bounded, so an app that builds a fresh rule per call only misses the shortcut, never grows this list.
            ShapeAlias[] aliases = _aliases;
            if (aliases.Length < MaxShapeAliases && !Array.Exists(aliases, alias => ReferenceEquals(alias.Id, id)))
            {
                _aliases = [.. aliases, new ShapeAlias(id, shape)];
            }
        }

        return shape;
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
    /// Before a call that may need new counters, and with nothing locked: when the store is full, reclaims expired
    /// counters, at most once a second so that a flood of new keys cannot turn every request into a full scan.
    /// </summary>
    private void MakeRoom(long now)
    {
        if (Volatile.Read(ref _trackedKeys) < _maxTrackedKeys)
        {
            return;
        }

        long last = Volatile.Read(ref _lastCapacitySweepMs);

        // "now - NeverSwept" would overflow to a negative number and block the first capacity sweep forever.
        if ((last == NeverSwept || now - last >= (long)s_minimumCapacitySweepInterval.TotalMilliseconds)
            && Interlocked.CompareExchange(ref _lastCapacitySweepMs, now, last) == last)
        {
            Sweep();
        }
    }

    private void ScheduleSweep(long now)
    {
        long next = Volatile.Read(ref _nextSweepMs);
        if (now >= next && Interlocked.CompareExchange(ref _nextSweepMs, now + _sweepIntervalMs, next) == next)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.Sweep(), this, preferLocal: false);
        }
    }

    /// <summary>Counts a decision that used an overflow sketch, and says once per episode that the store is full. Nothing is locked.</summary>
    private void OnOverflow()
    {
        Interlocked.Increment(ref _overflowDecisions);
        _metrics?.RecordOverflowDecision(_name);
        if (Volatile.Read(ref _fullLogged) == 0 && Interlocked.Exchange(ref _fullLogged, 1) == 0)
        {
            Log.StoreFull(_logger, _name, _maxTrackedKeys);
        }
    }

    private readonly record struct ShapeAlias(string Id, InMemoryShape Shape);

    /// <summary>Room for what a typical multi-key acquire (a message to a few recipients) locks, on the stack.</summary>
    [InlineArray(SmallCallLength)]
    private struct SmallCall<T>
    {
        private T _first;
    }
}
