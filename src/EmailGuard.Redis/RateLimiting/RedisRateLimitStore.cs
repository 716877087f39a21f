using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Rate-limit counters in Redis, shared by every app instance: one Lua script per call decides and takes all
/// permits atomically, and writes each counter together with its TTL.
/// </summary>
/// <remarks>
/// <para>
/// On Redis Cluster, an acquire whose counters share a hash slot is still one script. Counters in several slots are
/// reserved master by master, one script per master for the slots it serves (see the CrossNode partial), or, where
/// that cannot run, slot by slot in ascending slot order; all at the time the first script read, and on a denial, what
/// was already reserved is given back. That never admits more than a limit; under contention it can deny an acquire that
/// a single atomic step would have admitted.
/// </para>
/// <para>Arguments are validated with the same checks as every store before Redis is touched.</para>
/// </remarks>
internal sealed partial class RedisRateLimitStore : IRateLimitStore
{
    /// <summary>
    /// Added to every TTL. Windows are aligned to the clock; the grace keeps a counter alive until every instance
    /// agrees its window has ended, and is short enough that keys never outlive their window by much.
    /// </summary>
    internal const long ExpiryGraceMilliseconds = 1000;

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly bool _useServerTime;
    private readonly ILogger _logger;
    private readonly TimeSpan _maxQueueWait;
    private readonly RedisScriptRunner _scripts;
    private readonly RedisSingleKeyCoalescer _coalescer;
    private readonly RedisAcquireArgumentCache _acquireArguments = new();
    private readonly RedisCounterKeyCache _counterNames;
    private long _acquisitionIds = Random.Shared.NextInt64(long.MinValue, long.MaxValue);

    /// <param name="connection">The connection.</param>
    /// <param name="options">The store's options.</param>
    /// <param name="timeProvider">The app's clock.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="maxQueueWait">
    /// How long a coalesced acquire may wait for its key's lane before it is failed unsent: the resilience timeout,
    /// after which its caller has already been answered by the failure mode. Defaults to that timeout's default.
    /// </param>
    /// <param name="meterFactory">The host's meter factory, for the over-limit cache's hit counter.</param>
    /// <param name="batchEveryAcquire">
    /// Sends every acquire through the batch script, even alone; for tests that hold it to the single scripts' decisions.
    /// </param>
    /// <param name="nodeScripts">
    /// Whether acquires across cluster slots are decided node by node, set instead of asked of the servers; for tests.
    /// Null asks the servers at the first such acquire.
    /// </param>
    public RedisRateLimitStore(
        RedisConnection connection,
        RedisRateLimitStoreOptions options,
        TimeProvider timeProvider,
        ILogger<RedisRateLimitStore>? logger = null,
        TimeSpan? maxQueueWait = null,
        IMeterFactory? meterFactory = null,
        bool batchEveryAcquire = false,
        bool? nodeScripts = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connection = connection;
        _counterNames = new RedisCounterKeyCache(connection.KeyPrefix);
        _timeProvider = timeProvider;
        _useServerTime = options.UseServerTime;
        _logger = logger ?? NullLogger<RedisRateLimitStore>.Instance;
        _maxQueueWait = maxQueueWait ?? new StoreResilienceOptions().Timeout;

        // Half the resilience timeout: a slot that stays half-moved is answered as busy before the wrapper times out.
        _scripts = new RedisScriptRunner(timeProvider, _logger, _maxQueueWait / 2, connection);
        _coalescer = new RedisSingleKeyCoalescer(this, timeProvider, _maxQueueWait);
        _batcher = options.BatchAcrossKeys || batchEveryAcquire
            ? new RedisScriptBatcher(_scripts, s_acquireManyScript, timeProvider, _maxQueueWait, _logger, Track, batchEveryAcquire)
            : null;
        KeepScriptsLoaded();
        InitializeNodeScripts(nodeScripts);
        ConfigureReplicaWait(options);
        _overLimit = options.OverLimitCacheMaxAge > TimeSpan.Zero
            ? new RedisOverLimitCache(timeProvider, options.OverLimitCacheMaxAge, meterFactory, _useServerTime ? _maxQueueWait / MaxBoundaryWaitShare : TimeSpan.Zero)
            : null;
    }

    /// <summary>The connection this store uses, shared with other Redis components.</summary>
    public RedisConnection Connection => _connection;

    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => AcquireAsync(requests, results, mayWaitForWindowEnd: true, cancellationToken);

    private ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool mayWaitForWindowEnd, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        RateLimitValidation.ValidateAcquire(requests.Span, results.Length);

        // One reading of the clock checks the over-limit cache and, for a single counter, names its window.
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        if (TryDenyLocally(requests.Span, results.Span, now, out RateLimitDecision local, out long windowEndedAt))
        {
            return new(local);
        }

        if (windowEndedAt != 0 && mayWaitForWindowEnd)
        {
            return AcquireOnceTheWindowEndedAsync(requests, results, windowEndedAt, cancellationToken);
        }

        if (requests.Length == 1)
        {
            ref readonly RateLimitRequest single = ref requests.Span[0];
            if (single.Rule.Algorithm == RateLimitAlgorithm.FixedWindow && single.Cost <= single.Rule.Limit && !NeedsReplicaWait(requests.Span))
            {
                return AcquireOneAsync(single, results, now, cancellationToken);
            }
        }

        return DecideAsync(requests, results, commit: true, cancellationToken);
    }

    public ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        long maxWaitMs = RateLimitValidation.ValidateMaxWait(maxWait);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        RateLimitValidation.ValidateAcquire(requests.Span, results.Length);
        return DecideAsync(requests, results, commit: true, cancellationToken, maxWaitMs);
    }

    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        RateLimitValidation.ValidatePeek(requests.Span, results.Length);
        return DecideAsync(requests, results, commit: false, cancellationToken);
    }

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        RateLimitValidation.ValidateRefund(requests.Span);
        return requests.Length == 0 || !decision.IsRefundable
            ? new(false)
            : RefundCoreAsync(requests, decision.Timestamp.ToUnixTimeMilliseconds(), decision.DecidedAt.ToUnixTimeMilliseconds(), decision.AcquisitionId, cancellationToken);
    }

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateReset(key, rule);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return ResetCoreAsync(key, rule, cancellationToken);
    }

    /// <summary>
    /// The Redis key of one counter now (a client-clock fixed window has one key per window); exposed for tests and
    /// tools that inspect Redis.
    /// </summary>
    internal string CounterKey(string key, RateLimitRule rule) => CounterKey(key, rule, _timeProvider.GetUtcNow().ToUnixTimeMilliseconds());

    private string CounterKey(string key, RateLimitRule rule, long nowMs)
        => RedisCounterKey.Create(_connection.KeyPrefix, key, rule.ShapeId, WindowIndex(rule, nowMs));

    /// <summary>
    /// The window index that goes into a counter's name: a client-clock fixed window's, so that each window has its
    /// own key and a window ends exactly when the clock says, whatever the server's clock; <see cref="RedisCounterKey.NoWindow"/> otherwise.
    /// </summary>
    private long WindowIndex(RateLimitRule rule, long nowMs)
        => !_useServerTime && rule.Algorithm == RateLimitAlgorithm.FixedWindow ? rule.GetWindowIndex(nowMs) : RedisCounterKey.NoWindow;

    /// <param name="requests">The requests.</param>
    /// <param name="results">The entries wanted, or empty.</param>
    /// <param name="commit">Whether to take the permits.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <param name="reserveMaxWaitMs">
    /// At least 0 for a reservation. Within one slot the script decides it atomically; across cluster slots a
    /// reservation is decided as an acquire now (reserved now or not at all), since the slots' scripts cannot agree on
    /// a later time atomically. Counters alone in their slots are left out of that and counted after an admission
    /// (<see cref="ReserveThenCountAsync"/>), so a reservation whose other rules share a slot is still reserved ahead.
    /// </param>
    /// <remarks>Its state machine comes from a pool, as <see cref="SendOneAsync"/>'s: the returned task is awaited once.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RateLimitDecision> DecideAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool commit, CancellationToken cancellationToken, long reserveMaxWaitMs = -1)
    {
        int n = requests.Length;
        if (n == 0)
        {
            return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, _timeProvider.GetUtcNow());
        }

        long started = _timeProvider.GetTimestamp();
        long epoch = _overLimit?.Epoch ?? 0;

        bool waitsForReplicas = commit && NeedsReplicaWait(requests.Span);
        IDatabase database = await DatabaseForAsync(waitsForReplicas, cancellationToken).ConfigureAwait(false);

        // One reading of the client clock names the keys and decides, so both agree on the window.
        long clientNow = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        RedisKey[] keys = BuildKeys(requests.Span, clientNow);
        if (n > 1 && await SpansSeveralSlotsAsync(requests, keys, cancellationToken).ConfigureAwait(false) is { } groups)
        {
            RateLimitDecision acrossSlots = reserveMaxWaitMs >= 0 && SplitCounterSlots(requests.Span, groups) is { } split
                ? await ReserveThenCountAsync(database, requests, results, keys, split.Constrained, split.Counters, clientNow, started, reserveMaxWaitMs, cancellationToken)
                    .ConfigureAwait(false)
                : reserveMaxWaitMs < 0
                    ? await DecideAcrossSlotsOrNodesAsync(database, requests, results, keys, groups, commit, clientNow, started, cancellationToken).ConfigureAwait(false)
                    : await DecideAcrossSlotsAsync(database, requests, results, keys, groups, commit, clientNow, started, cancellationToken).ConfigureAwait(false);
            if (waitsForReplicas && acrossSlots.IsAllowed)
            {
                await EnsureReplicatedAsync(database, requests, keys, acrossSlots.Timestamp.ToUnixTimeMilliseconds(), acrossSlots.DecidedAt.ToUnixTimeMilliseconds()).ConfigureAwait(false);
            }

            if (commit)
            {
                ObserveAcquire(requests.Span, results.Span, acrossSlots, epoch, started, admissionFills: reserveMaxWaitMs < 0);
            }

            return acrossSlots;
        }

        bool wantEntries = !results.IsEmpty;
        RedisValue[] arguments = _useServerTime ? _acquireArguments.Get(requests.Span, commit, wantEntries, reserveMaxWaitMs)
            : RedisScriptCodec.AcquireArguments(requests.Span, null, commit, clientNow, wantEntries, useServerTime: false, reserveMaxWaitMs);
        ValueTask<RedisResult> sending = SendAcquireAsync(database, s_acquireScript, new RedisScriptCall(keys, arguments), started, cancellationToken);
        RedisResult raw;
        if (!cancellationToken.CanBeCanceled)
        {
            raw = await sending.ConfigureAwait(false);
        }
        else
        {
            Task<RedisResult> sent = sending.AsTask();
            try
            {
                raw = await sent.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (commit && cancellationToken.IsCancellationRequested && !sent.IsCanceled)
            {
                GiveBackWhenDone(sent, Copy(requests.Span, null), s_admittedAtOfAcquire);
                throw;
            }
        }

        RedisScriptOutcome outcome = RedisScriptCodec.ReadOutcome(raw, requests.Span, null, wantEntries ? results.Span : default);
        if (waitsForReplicas && outcome.DeniedIndex < 0)
        {
            await EnsureReplicatedAsync(database, requests, keys, outcome.NowMs, outcome.DecidedAtMs).ConfigureAwait(false);
        }

        RateLimitDecision decision = outcome.ToDecision(commit ? NextAcquisitionId() : 0);
        if (commit)
        {
            ObserveAcquire(requests.Span, results.Span, decision, epoch, started, admissionFills: reserveMaxWaitMs < 0);
        }

        return decision;
    }

    /// <summary>A new acquisition's identity: random per store, then counting, so instances never share one in practice.</summary>
    private long NextAcquisitionId()
    {
        long id;
        do
        {
            id = Interlocked.Increment(ref _acquisitionIds);
        }
        while (id == 0);

        return id;
    }

    private RedisKey[] BuildKeys(ReadOnlySpan<RateLimitRequest> requests, long nowMs)
    {
        RedisKey[] keys = new RedisKey[requests.Length];
        for (int i = 0; i < requests.Length; i++)
        {
            // A call often repeats a counter (two recipients at one domain); reuse its key instead of building it
            // again. Looking back only a few places keeps a 4,096-request call linear.
            int same = -1;
            for (int j = Math.Max(0, i - 8); j < i; j++)
            {
                if (string.Equals(requests[j].Key, requests[i].Key, StringComparison.Ordinal)
                    && string.Equals(requests[j].Rule.ShapeId, requests[i].Rule.ShapeId, StringComparison.Ordinal))
                {
                    same = j;
                    break;
                }
            }

            keys[i] = same >= 0
                ? keys[same]
                : (RedisKey)_counterNames.Get(requests[i].Key, requests[i].Rule.ShapeId, WindowIndex(requests[i].Rule, nowMs));
        }

        return keys;
    }
}
