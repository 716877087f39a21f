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
/// reserved slot by slot in ascending slot order, all at the time the first slot's script read; on a denial, what was
/// already reserved is given back. That never admits more than a limit; under contention it can deny an acquire that
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

    private static readonly RedisValue s_one = 1;
    private static readonly RedisValue s_zero = 0;
    private static readonly RedisValue s_serverTime = -1;

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly bool _useServerTime;
    private readonly ILogger _logger;
    private readonly TimeSpan _maxQueueWait;
    private readonly TimeSpan _slotRetryBudget;
    private long _acquisitionIds = Random.Shared.NextInt64(long.MinValue, long.MaxValue);

    /// <param name="connection">The connection.</param>
    /// <param name="options">The store's options.</param>
    /// <param name="timeProvider">The app's clock.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="maxQueueWait">
    /// How long a coalesced acquire may wait for its key's lane before it is failed unsent: the resilience timeout,
    /// after which its caller has already been answered by the failure mode. Defaults to that timeout's default.
    /// </param>
    public RedisRateLimitStore(
        RedisConnection connection,
        RedisRateLimitStoreOptions options,
        TimeProvider timeProvider,
        ILogger<RedisRateLimitStore>? logger = null,
        TimeSpan? maxQueueWait = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _connection = connection;
        _timeProvider = timeProvider;
        _useServerTime = options.UseServerTime;
        _logger = logger ?? NullLogger<RedisRateLimitStore>.Instance;
        _maxQueueWait = maxQueueWait ?? new StoreResilienceOptions().Timeout;
        _slotRetryBudget = _maxQueueWait / 2;
        ConfigureReplicaWait(options);
    }

    /// <summary>The connection this store uses, shared with other Redis components.</summary>
    public RedisConnection Connection => _connection;

    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RateLimitDecision>(cancellationToken);
        }

        RateLimitValidation.ValidateAcquire(requests.Span, results.Length);
        if (requests.Length == 1)
        {
            ref readonly RateLimitRequest single = ref requests.Span[0];
            if (single.Rule.Algorithm == RateLimitAlgorithm.FixedWindow && single.Cost <= single.Rule.Limit && !NeedsReplicaWait(requests.Span))
            {
                return AcquireOneAsync(single, results, cancellationToken);
            }
        }

        return DecideAsync(requests, results, commit: true, cancellationToken);
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
            : RefundCoreAsync(requests, decision.Timestamp.ToUnixTimeMilliseconds(), decision.AcquisitionId, cancellationToken);
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

    private async ValueTask ResetCoreAsync(string key, RateLimitRule rule, CancellationToken cancellationToken)
    {
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long index = WindowIndex(rule, now);
        string prefix = _connection.KeyPrefix;
        RedisKey[] keys = index == RedisCounterKey.NoWindow
            ? [CounterKey(key, rule, now), RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index)]

            // An instance whose clock lags may still count into the previous window's key during the grace.
            : [CounterKey(key, rule, now), CounterKey(key, rule, now - rule.WindowMilliseconds),
                RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index), RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index - 1)];
        RedisValue[] arguments = [_useServerTime ? s_serverTime : now, rule.WindowMilliseconds + ExpiryGraceMilliseconds];
        await EvaluateAsync(database, s_resetScript, keys, arguments, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<RateLimitDecision> DecideAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool commit, CancellationToken cancellationToken)
    {
        int n = requests.Length;
        if (n == 0)
        {
            return new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, _timeProvider.GetUtcNow());
        }

        long started = _timeProvider.GetTimestamp();

        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);

        // One reading of the client clock names the keys and decides, so both agree on the window.
        long clientNow = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        RedisKey[] keys = BuildKeys(requests.Span, clientNow);
        if (n > 1 && await SpansSeveralSlotsAsync(requests, keys, cancellationToken).ConfigureAwait(false) is { } groups)
        {
            RateLimitDecision acrossSlots = await DecideAcrossSlotsAsync(database, requests, results, keys, groups, commit, clientNow, started, cancellationToken)
                .ConfigureAwait(false);
            if (commit && acrossSlots.IsAllowed && NeedsReplicaWait(requests.Span))
            {
                await EnsureReplicatedAsync(requests, keys, acrossSlots.Timestamp.ToUnixTimeMilliseconds()).ConfigureAwait(false);
            }

            return acrossSlots;
        }

        bool wantEntries = !results.IsEmpty;
        RedisValue[] arguments = AcquireArguments(requests.Span, null, commit, _useServerTime ? s_serverTime : clientNow, wantEntries);

        // EvaluateAsync inlined: the hot path then allocates one async state machine per call, not two.
        cancellationToken.ThrowIfCancellationRequested();
        Task<RedisResult> sent = database.ScriptEvaluateAsync(s_acquireScript.Hash, keys, arguments);
        RedisResult raw;
        try
        {
            raw = await WithCancellation(sent, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (IsRetriable(ex))
        {
            Task<RedisResult> retried = RecoverAsync(database, s_acquireScript, keys, arguments, ex, started, cancellationToken);
            raw = commit
                ? await AwaitAcquireAsync(retried, requests, null, s_admittedAtOfAcquire, cancellationToken).ConfigureAwait(false)
                : await WithCancellation(retried, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (commit && cancellationToken.IsCancellationRequested && !sent.IsCanceled)
        {
            GiveBackWhenDone(sent, Copy(requests.Span, null), s_admittedAtOfAcquire);
            throw;
        }

        Outcome outcome = ReadOutcome(raw, requests.Span, null, wantEntries ? results.Span : default);
        if (commit && outcome.DeniedIndex < 0 && NeedsReplicaWait(requests.Span))
        {
            await EnsureReplicatedAsync(requests, keys, outcome.NowMs).ConfigureAwait(false);
        }

        return outcome.ToDecision(commit ? NextAcquisitionId() : 0);
    }

    private async ValueTask<bool> RefundCoreAsync(ReadOnlyMemory<RateLimitRequest> requests, long acquiredAtMs, long acquisitionId, CancellationToken cancellationToken)
    {
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisKey[] keys = BuildKeys(requests.Span, acquiredAtMs);
        List<int[]>? groups = requests.Length > 1 ? await SpansSeveralSlotsAsync(requests, keys, cancellationToken).ConfigureAwait(false) : null;
        if (groups is null)
        {
            return await RefundGroupAsync(database, requests, keys, null, acquiredAtMs, acquisitionId, cancellationToken).ConfigureAwait(false);
        }

        // Each slot's counters carry their own marker, so a refund that failed half-way can be repeated for the rest.
        bool refunded = false;
        foreach (int[] group in groups)
        {
            refunded |= await RefundGroupAsync(database, requests, keys, group, acquiredAtMs, acquisitionId, cancellationToken).ConfigureAwait(false);
        }

        return refunded;
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

    /// <summary>
    /// Splits an acquire over several cluster slots: reserve slot by slot in ascending slot order (a fixed order, so
    /// two acquires over the same slots contend in the same sequence), all with the time the first script read; on
    /// a denial, give back what was reserved and peek the slots not yet visited so every entry is filled.
    /// </summary>
    private async ValueTask<RateLimitDecision> DecideAcrossSlotsAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        List<int[]> groups,
        bool commit,
        long clientNow,
        long started,
        CancellationToken cancellationToken)
    {
        bool wantEntries = !results.IsEmpty;
        long? now = _useServerTime ? null : clientNow;
        Outcome merged = new(0, -1, 0);
        int reserved = 0;
        int deniedGroup = -1;
        for (int g = 0; g < groups.Count; g++)
        {
            Outcome outcome;
            try
            {
                outcome = await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit, now, wantEntries, cancellationToken, started)
                    .ConfigureAwait(false);
            }
            catch when (commit && reserved > 0)
            {
                // The acquire fails as a whole (the master of this slot died, timed out or answered an error), so the
                // slots already reserved must not keep permits for it. This slot's own script may still have run; its
                // permits are left alone, since giving back what was never taken would let a limit be exceeded.
                Log.CrossSlotAcquireFailed(_logger, groups.Count, reserved);
                await GiveBackAfterFailureAsync(database, requests, keys, groups, reserved, now!.Value).ConfigureAwait(false);
                throw;
            }

            now ??= outcome.NowMs;
            merged = merged.Merge(outcome);
            if (commit && outcome.DeniedIndex >= 0)
            {
                deniedGroup = g;
                break;
            }

            reserved = g + 1;
        }

        merged = merged with { NowMs = now!.Value };
        if (!commit || deniedGroup < 0)
        {
            return merged.ToDecision(commit ? NextAcquisitionId() : 0);
        }

        Log.CrossSlotAcquireDenied(_logger, groups.Count, reserved);

        // Not under the caller's token: a caller that cancels now must not leave the reservations held.
        for (int g = 0; g < reserved; g++)
        {
            await RefundGroupAsync(database, requests, keys, groups[g], now.Value, 0, CancellationToken.None).ConfigureAwait(false);
        }

        for (int g = 0; g < reserved && wantEntries; g++)
        {
            // Read the given-back counters again rather than patching the reservation's entries: the reset time of a
            // sliding window depends on which segments still hold permits, so only a fresh read reports what a
            // single-script denial would.
            await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit: false, now, wantEntries, cancellationToken)
                .ConfigureAwait(false);
        }

        for (int g = deniedGroup + 1; g < groups.Count; g++)
        {
            Outcome outcome = await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit: false, now, wantEntries, cancellationToken)
                .ConfigureAwait(false);
            merged = merged.Merge(outcome);
        }

        return merged.ToDecision(0);
    }

    /// <summary>
    /// Gives back the slots an acquire reserved before it failed. Not under the caller's token: a caller that cancelled
    /// or gave up must still not leave permits held. A give-back that fails too is logged, not thrown: the acquire's
    /// own failure is what surfaces, and a permit left held only makes that limit stricter until its window ends.
    /// </summary>
    private async ValueTask GiveBackAfterFailureAsync(
        IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, List<int[]> groups, int reserved, long acquiredAtMs)
    {
        for (int g = 0; g < reserved; g++)
        {
            try
            {
                await RefundGroupAsync(database, requests, keys, groups[g], acquiredAtMs, 0, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // See the summary: whatever the give-back's failure, the acquire's failure is the one to report.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.CrossSlotGiveBackFailed(_logger, ex);
            }
        }
    }

    private async ValueTask<Outcome> EvaluateGroupAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        int[] group,
        bool commit,
        long? now,
        bool wantEntries,
        CancellationToken cancellationToken,
        long? startedAt = null)
    {
        RedisKey[] groupKeys = new RedisKey[group.Length];
        for (int k = 0; k < group.Length; k++)
        {
            groupKeys[k] = keys[group[k]];
        }

        RedisValue[] arguments = AcquireArguments(requests.Span, group, commit, now is { } ms ? ms : s_serverTime, wantEntries);
        RedisResult raw = commit
            ? await AwaitAcquireAsync(SendChecked(database, s_acquireScript, groupKeys, arguments, cancellationToken, startedAt), requests, group, s_admittedAtOfAcquire, cancellationToken)
                .ConfigureAwait(false)
            : await EvaluateAsync(database, s_acquireScript, groupKeys, arguments, cancellationToken, startedAt).ConfigureAwait(false);
        return ReadOutcome(raw, requests.Span, group, wantEntries ? results.Span : default);
    }

    /// <summary>
    /// Gives back one slot's requests (all of them when <paramref name="group"/> is null). A caller's refund names its
    /// acquisition, whose marker makes it count once; the store's own give-back of a reservation passes 0.
    /// </summary>
    private async ValueTask<bool> RefundGroupAsync(
        IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, int[]? group, long acquiredAtMs, long acquisitionId, CancellationToken cancellationToken)
    {
        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        int n = group?.Length ?? span.Length;
        RedisKey[] groupKeys = new RedisKey[(2 * n) + (acquisitionId == 0 ? 0 : 1)];
        string prefix = _connection.KeyPrefix;
        RateLimitRule longest = span[group is null ? 0 : group[0]].Rule;
        for (int k = 0; k < n; k++)
        {
            int i = group is null ? k : group[k];
            RateLimitRule rule = span[i].Rule;
            groupKeys[k] = keys[i];
            groupKeys[n + k] = RedisCounterKey.Tombstone(prefix, span[i].Key, rule.ShapeId, WindowIndex(rule, acquiredAtMs));
            longest = rule.WindowMilliseconds > longest.WindowMilliseconds ? rule : longest;
        }

        long markerTtl = longest.WindowMilliseconds + ExpiryGraceMilliseconds;
        if (acquisitionId != 0)
        {
            groupKeys[2 * n] = RedisCounterKey.RefundMarker(prefix, span[group is null ? 0 : group[0]].Key, acquisitionId, longest.ShapeId);
        }

        RedisResult reply = await EvaluateAsync(database, s_refundScript, groupKeys, RefundArguments(span, group, acquiredAtMs, acquisitionId == 0 ? 0 : markerTtl), cancellationToken)
            .ConfigureAwait(false);
        return (long)reply == 1;
    }

    /// <summary>
    /// Returns the requests grouped by hash slot (groups in ascending slot order, requests in call order), or
    /// <see langword="null"/> when one script can take them all: every key in one slot, or a server that is not a cluster.
    /// </summary>
    private async ValueTask<List<int[]>?> SpansSeveralSlotsAsync(ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, CancellationToken cancellationToken)
    {
        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        bool onePartition = true;
        for (int i = 1; i < span.Length && onePartition; i++)
        {
            onePartition = string.Equals(span[i].Key, span[0].Key, StringComparison.Ordinal);
        }

        if (onePartition || !_connection.IsCluster)
        {
            return null;
        }

        IConnectionMultiplexer multiplexer = await _connection.GetMultiplexerAsync(cancellationToken).ConfigureAwait(false);
        int[] slots = new int[keys.Length];
        bool oneSlot = true;
        for (int i = 0; i < keys.Length; i++)
        {
            slots[i] = multiplexer.HashSlot(keys[i]);
            oneSlot &= slots[i] == slots[0];
        }

        if (oneSlot)
        {
            return null;
        }

        SortedDictionary<int, List<int>> bySlot = [];
        for (int i = 0; i < slots.Length; i++)
        {
            if (!bySlot.TryGetValue(slots[i], out List<int>? members))
            {
                members = [];
                bySlot.Add(slots[i], members);
            }

            members.Add(i);
        }

        List<int[]> groups = new(bySlot.Count);
        foreach (List<int> members in bySlot.Values)
        {
            groups.Add([.. members]);
        }

        return groups;
    }

    /// <summary>Runs a script that takes nothing (a peek, a refund) or whose caller cannot cancel, under the caller's token.</summary>
    private Task<RedisResult> EvaluateAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, CancellationToken cancellationToken, long? startedAt = null)
        => WithCancellation(SendChecked(database, script, keys, arguments, cancellationToken, startedAt), cancellationToken);

    /// <summary>
    /// Sends the script unless the caller has already cancelled: a call cancelled before it is sent takes nothing.
    /// <paramref name="startedAt"/> is when the store call began (now when not given), for the retry budget.
    /// </summary>
    private Task<RedisResult> SendChecked(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, CancellationToken cancellationToken, long? startedAt = null)
        => cancellationToken.IsCancellationRequested
            ? Task.FromCanceled<RedisResult>(cancellationToken)
            : SendAsync(database, script, keys, arguments, startedAt ?? _timeProvider.GetTimestamp(), cancellationToken);

    private static bool IsNoScript(RedisServerException exception) => exception.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal);

    /// <summary>
    /// Runs a script by its text after the server answered NOSCRIPT: it lost its script cache (SCRIPT FLUSH, a
    /// restart, a failover to a replica that never saw the script) or never had it. EVAL runs the script and caches
    /// it again on that node, so the next EVALSHA succeeds. Sent as a raw command, routed by its keys, so that the
    /// client's own script cache cannot turn it back into an EVALSHA.
    /// </summary>
    private Task<RedisResult> EvaluateTextAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, CancellationToken cancellationToken)
    {
        Log.ScriptReloaded(_logger, script.Name);
        object[] command = new object[2 + keys.Length + arguments.Length];
        command[0] = script.Text;
        command[1] = keys.Length;
        for (int i = 0; i < keys.Length; i++)
        {
            command[2 + i] = keys[i];
        }

        for (int i = 0; i < arguments.Length; i++)
        {
            command[2 + keys.Length + i] = arguments[i];
        }

        return WithCancellation(database.ExecuteAsync("EVAL", command), cancellationToken);
    }

    private static Task<T> WithCancellation<T>(Task<T> task, CancellationToken cancellationToken)
        => cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;

    private RedisKey[] BuildKeys(ReadOnlySpan<RateLimitRequest> requests, long nowMs)
    {
        RedisKey[] keys = new RedisKey[requests.Length];
        string prefix = _connection.KeyPrefix;
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
                : (RedisKey)RedisCounterKey.Create(prefix, requests[i].Key, requests[i].Rule.ShapeId, WindowIndex(requests[i].Rule, nowMs));
        }

        return keys;
    }

    private RedisValue[] AcquireArguments(ReadOnlySpan<RateLimitRequest> requests, int[]? group, bool commit, RedisValue now, bool wantEntries)
    {
        int n = group?.Length ?? requests.Length;
        RedisValue[] arguments = new RedisValue[5 + (4 * n)];
        arguments[0] = commit ? s_one : s_zero;
        arguments[1] = now;
        arguments[2] = wantEntries ? s_one : s_zero;
        arguments[3] = ExpiryGraceMilliseconds;
        arguments[4] = _useServerTime ? s_one : s_zero;
        for (int k = 0; k < n; k++)
        {
            ref readonly RateLimitRequest request = ref requests[group is null ? k : group[k]];
            RateLimitRule rule = request.Rule;
            int at = 5 + (4 * k);
            arguments[at] = rule.Limit;
            arguments[at + 1] = rule.WindowMilliseconds;
            arguments[at + 2] = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? 0 : rule.Segments;
            arguments[at + 3] = request.Cost;
        }

        return arguments;
    }

    private RedisValue[] RefundArguments(ReadOnlySpan<RateLimitRequest> requests, int[]? group, long acquiredAtMs, long markerTtlMs)
    {
        int n = group?.Length ?? requests.Length;
        RedisValue[] arguments = new RedisValue[3 + (3 * n)];
        arguments[0] = acquiredAtMs;
        arguments[1] = _useServerTime ? s_one : s_zero;
        arguments[2] = markerTtlMs;
        for (int k = 0; k < n; k++)
        {
            ref readonly RateLimitRequest request = ref requests[group is null ? k : group[k]];
            int at = 3 + (3 * k);
            arguments[at] = request.Rule.WindowMilliseconds;
            arguments[at + 1] = request.Rule.Algorithm == RateLimitAlgorithm.FixedWindow ? 0 : request.Rule.Segments;
            arguments[at + 2] = request.Cost;
        }

        return arguments;
    }

    /// <summary>Reads the acquire script's reply, writing entries (when wanted) at the requests' own indexes.</summary>
    private static Outcome ReadOutcome(RedisResult raw, ReadOnlySpan<RateLimitRequest> requests, int[]? group, Span<RateLimitEntry> results)
    {
        RedisResult[] reply = (RedisResult[])raw!;
        long now = (long)reply[0];
        int denied = (int)reply[1];
        long retry = (long)reply[2];
        if (denied >= 0 && group is not null)
        {
            denied = group[denied];
        }

        if (!results.IsEmpty)
        {
            int n = group?.Length ?? requests.Length;
            for (int k = 0; k < n; k++)
            {
                int i = group is null ? k : group[k];
                int at = 3 + (4 * k);
                long entryRetry = (long)reply[at + 2];
                results[i] = new RateLimitEntry(
                    (long)reply[at] == 1,
                    (long)reply[at + 1],
                    requests[i].Rule.Limit,
                    entryRetry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(entryRetry),
                    DateTimeOffset.FromUnixTimeMilliseconds((long)reply[at + 3]));
            }
        }

        return new Outcome(now, denied, retry);
    }

    /// <summary>What one script decided: its clock, the first denied request (-1 for none), the retry-after (-1: never).</summary>
    private readonly record struct Outcome(long NowMs, int DeniedIndex, long RetryMs)
    {
        public Outcome Merge(Outcome other) => new(
            NowMs,
            DeniedIndex < 0 ? other.DeniedIndex : other.DeniedIndex < 0 ? DeniedIndex : Math.Min(DeniedIndex, other.DeniedIndex),
            RetryMs < 0 || other.RetryMs < 0 ? -1 : Math.Max(RetryMs, other.RetryMs));

        public RateLimitDecision ToDecision(long acquisitionId) => new(
            DeniedIndex < 0 ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded,
            DeniedIndex,
            DeniedIndex < 0 ? TimeSpan.Zero : RetryMs < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(RetryMs),
            DateTimeOffset.FromUnixTimeMilliseconds(NowMs),
            acquisitionId);
    }
}
