using System.Collections.Concurrent;
using System.Diagnostics;
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

    /// <summary><see cref="AcquireAsync"/> for a caller that is not cancelled, answered without a task.</summary>
    /// <param name="requests">The requests.</param>
    /// <param name="results">The results buffer.</param>
    /// <param name="systemTick">
    /// <see cref="Environment.TickCount64"/> read moments ago by the caller (the send guard reads it once per check
    /// for its key caches), taken instead of reading that clock again: the store's clock advances per tick anyway
    /// (see <see cref="NowMs(long)"/>). Ignored unless the store runs on the system clock.
    /// </param>
    /// <remarks>
    /// The requests are the send guard's own plan (<see cref="GuardPlanBuilder"/>), valid by construction: cached keys
    /// of a prefix and a bounded party id, the options' validated rules, a cost of the message's mails (at least 1),
    /// at most <see cref="RateLimitValidation.MaxRequestsPerCall"/> of them. So they are not checked again here, which
    /// every check paid for on its way to the counters; a debug build still checks them.
    /// </remarks>
    internal RateLimitDecision Acquire(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, long systemTick)
    {
        ValidateInDebug(requests, results.Length);
        return DecideValid(requests, results, commit: true, NoReservation, systemTick);
    }

    [Conditional("DEBUG")]
    private static void ValidateInDebug(ReadOnlySpan<RateLimitRequest> requests, int resultsLength)
        => RateLimitValidation.ValidateRequests(requests, resultsLength, allowZeroCost: false);

    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        return new(Decide(requests.Span, results.Span, commit: false));
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
            counter.Enter();
            try
            {
                if (!counter.Removed && counters.TryRemove(new KeyValuePair<string, InMemoryCounter>(key, counter)))
                {
                    counter.Removed = true;
                    Interlocked.Decrement(ref _trackedKeys);
                }
            }
            finally
            {
                counter.Exit();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// The store's clock in Unix milliseconds. On the system clock, the wall clock is read at most once per tick of
    /// the OS's coarse monotonic clock (1 to 4 ms) and never goes backwards: reading the wall clock costs as much as
    /// the rest of a decision, and a clock stepped back must not reopen windows that are already full. Any other
    /// <see cref="TimeProvider"/> (a fake one in tests) is read on every call, so decisions stay exact to the
    /// millisecond there.
    /// </summary>
    private long NowMs() => _systemClock ? NowMs(Environment.TickCount64) : _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// As <see cref="NowMs()"/>, with <see cref="Environment.TickCount64"/> read by the caller moments ago. A tick
    /// older than the last one seen costs a reading of the wall clock, never a time earlier than one answered before.
    /// </summary>
    private long NowMs(long systemTick)
    {
        if (!_systemClock)
        {
            return _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        }

        long tick = systemTick;
        if (tick == Volatile.Read(ref _clockTick))
        {
            return Volatile.Read(ref _clockMs);
        }

        return ReadSystemClock(tick);
    }

    private long ReadSystemClock(long tick)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        AtomicMax.Raise(ref _clockMs, now);
        Volatile.Write(ref _clockTick, tick);
        return Math.Max(now, Volatile.Read(ref _clockMs));
    }
}
