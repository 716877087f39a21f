using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Acquires across cluster slots decided node by node: the slots one master serves are decided by one script on that
/// master, in the lane of that master, where it is batched with the acquires of any other slots it serves.
/// </summary>
/// <remarks>
/// <para>
/// Redis 7 lets a script that declares <c>allow-cross-slot-keys</c> touch keys of every slot its node serves, while
/// its declared keys must still share one slot: the node script declares its first key, which routes it, and passes
/// every key as an argument (<see cref="RedisNodeScriptLayout"/>). A key whose slot the node does not serve (a slot
/// moved or moving, a failover the client has not seen yet) fails the script at that key's first access, and every
/// acquire reads all its keys before it writes any, so such a failure leaves nothing written: the acquire gives back
/// what earlier nodes reserved and is decided again slot by slot (<see cref="DecideAcrossSlotsAsync"/>), whose
/// scripts follow <c>MOVED</c> and <c>ASK</c> and so teach the client the new map.
/// </para>
/// <para>
/// Used for acquires with batching across keys on, once the servers are known to be Redis (or Valkey) 7 or later:
/// Garnet and older servers keep the slot-by-slot path. Reservations and peeks keep it too.
/// </para>
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// The batch script (<see cref="AcquireManyScriptText"/>) for members whose keys span the slots of one node.
    /// </summary>
    /// <remarks>
    /// KEYS: one key, which only routes the call to its node. ARGV: the number of keys n, the n keys (every member's, in
    /// order), then the batch script's own arguments; the body reads them as its <c>KEYS</c> and <c>ARGV</c>.
    /// </remarks>
    internal const string AcquireManyAcrossSlotsScriptText = "#!lua flags=allow-cross-slot-keys\n" + AcquireManyFunctionsLua + """
        local nk = tonumber(ARGV[1])
        local keys, args = {}, {}
        for i = 1, nk do keys[i] = ARGV[1 + i] end
        for i = nk + 2, #ARGV do args[i - nk - 1] = ARGV[i] end
        local KEYS, ARGV = keys, args

        """ + AcquireManyBodyLua;

    /// <summary>How long after a failed look at the servers the store looks again.</summary>
    private static readonly TimeSpan s_nodeScriptDetectionRetry = TimeSpan.FromSeconds(30);

    private static readonly RedisScript s_acquireManyAcrossSlotsScript = new("acquire-many-across-slots", AcquireManyAcrossSlotsScriptText, noRedirect: true);

    private readonly ConcurrentDictionary<EndPoint, int> _nodeLanes = new();
    private readonly Lock _nodeScriptGate = new();
    private RedisScriptBatcher? _nodeBatcher;
    private Task? _nodeScriptDetection;
    private long _nodeScriptRetryAt;
    private int _nodeScriptState;

    /// <summary>The node batcher, or null until node scripts are known to be usable; for tests.</summary>
    internal RedisScriptBatcher? NodeBatcher => _nodeBatcher;

    /// <summary>Acquires decided again slot by slot after a node script met a key its node does not serve; for tests.</summary>
    internal long NodeFallbacks => Interlocked.Read(ref _nodeFallbacks);

    private long _nodeFallbacks;
    private int _nextNodeLane;

    /// <summary>
    /// Completes once the store knows whether the servers run node scripts, starting that look if none has been
    /// started; for tests and benchmarks, which otherwise meet the slot-by-slot path on their first calls.
    /// </summary>
    internal Task NodeScriptsDetectedAsync()
    {
        _ = NodeScriptsUsable();
        return _nodeScriptDetection ?? Task.CompletedTask;
    }

    /// <summary>
    /// Decides an acquire across slots node by node, or slot by slot where node scripts cannot run.
    /// </summary>
    private async ValueTask<RateLimitDecision> DecideAcrossSlotsOrNodesAsync(
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
        // The node batcher's scripts go over the shared connection: an acquire that waits for replicas goes slot by slot on its own.
        if (commit && !IsReplicaWaitDatabase(database) && NodeScriptsUsable() && PlanNodes(database.Multiplexer, keys, groups) is { } plan
            && await DecideAcrossNodesAsync(database, requests, results, keys, plan, clientNow, started, cancellationToken).ConfigureAwait(false) is { } decided)
        {
            return decided;
        }

        return await DecideAcrossSlotsAsync(database, requests, results, keys, groups, commit, clientNow, started, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reserves node by node in the order of each node's lowest slot in the call (a fixed order, as slot by slot), all
    /// at the time the first script read; on a denial, gives back what was reserved and peeks the slots not yet
    /// visited so every entry is filled. Returns <see langword="null"/>, holding nothing, when a node script met a key
    /// its node does not serve: the caller then decides slot by slot.
    /// </summary>
    private async ValueTask<RateLimitDecision?> DecideAcrossNodesAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        NodePlan plan,
        long clientNow,
        long started,
        CancellationToken cancellationToken)
    {
        RedisScriptBatcher batcher = _nodeBatcher!;
        bool wantEntries = !results.IsEmpty;
        long? now = _useServerTime ? null : clientNow;
        RedisScriptOutcome merged = new(0, -1, 0);
        int reservedGroups = 0;
        int deniedEnd = -1;
        int start = 0;
        for (int s = 0; s < plan.Steps.Count; s++)
        {
            (int end, int lane) = plan.Steps[s];
            int[] members = plan.Members(start, end);
            RedisScriptOutcome outcome;
            try
            {
                RedisKey[] stepKeys = new RedisKey[members.Length];
                for (int k = 0; k < members.Length; k++)
                {
                    stepKeys[k] = keys[members[k]];
                }

                RedisValue[] arguments = RedisScriptCodec.AcquireArguments(
                    requests.Span, members, commit: true, now is { } ms ? ms : RedisScriptCodec.ServerTime, wantEntries, _useServerTime, -1);
                RedisScriptCall call = new(stepKeys, arguments);
                RedisResult raw = await AwaitAcquireAsync(
                    batcher.SendAsync(database, lane, s_acquireScript, call.KeyCount, -call.KeyCount, call, started, cancellationToken),
                    requests,
                    members,
                    s_admittedAtOfAcquire,
                    cancellationToken)
                    .ConfigureAwait(false);
                outcome = RedisScriptCodec.ReadOutcome(raw, requests.Span, members, wantEntries ? results.Span : default);
            }
            catch (RedisException ex) when (IsNotServedByNode(ex))
            {
                // This node's script failed at a key before writing anything; what earlier nodes reserved goes back, and
                // the acquire is decided again slot by slot.
                Interlocked.Increment(ref _nodeFallbacks);
                string shownMessage = LogValue.Of(ex.Message);
                Log.NodeScriptFellBack(_logger, plan.Groups.Count, shownMessage);
                if (reservedGroups > 0)
                {
                    await GiveBackAfterFailureAsync(database, requests, keys, plan.Groups, reservedGroups, now!.Value).ConfigureAwait(false);
                }

                return null;
            }
            catch when (reservedGroups > 0)
            {
                Log.CrossSlotAcquireFailed(_logger, plan.Groups.Count, reservedGroups);
                await GiveBackAfterFailureAsync(database, requests, keys, plan.Groups, reservedGroups, now!.Value).ConfigureAwait(false);
                throw;
            }

            now ??= outcome.NowMs;
            merged = merged.Merge(outcome);
            if (outcome.DeniedIndex >= 0)
            {
                deniedEnd = end;
                break;
            }

            reservedGroups = end;
            start = end;
        }

        merged = merged with { NowMs = now!.Value };
        if (deniedEnd < 0)
        {
            return merged.ToDecision(NextAcquisitionId());
        }

        return await GiveBackAfterDenialAsync(database, requests, results, keys, plan.Groups, reservedGroups, deniedEnd, now.Value, started, merged, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Orders the slot groups node by node (nodes in the order of their lowest slot in the call, a node's slots in
    /// ascending order), or returns <see langword="null"/> when the client knows no node for a slot.
    /// </summary>
    private NodePlan? PlanNodes(IConnectionMultiplexer multiplexer, RedisKey[] keys, List<int[]> groups)
    {
        int[] lanes = new int[groups.Count];
        try
        {
            for (int g = 0; g < groups.Count; g++)
            {
                if (multiplexer.GetServer(keys[groups[g][0]]) is not { EndPoint: { } endpoint })
                {
                    return null;
                }

                lanes[g] = _nodeLanes.GetOrAdd(endpoint, static (_, store) => Interlocked.Increment(ref store._nextNodeLane), this);
            }
        }
        catch (Exception ex) when (ex is RedisException or InvalidOperationException)
        {
            // No server known for a slot (the client is still learning the map): the slot-by-slot path asks Redis.
            return null;
        }

        List<int[]> ordered = new(groups.Count);
        List<(int End, int Lane)> steps = [];
        bool[] taken = new bool[groups.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            if (taken[g])
            {
                continue;
            }

            for (int h = g; h < groups.Count; h++)
            {
                if (!taken[h] && lanes[h] == lanes[g])
                {
                    taken[h] = true;
                    ordered.Add(groups[h]);
                }
            }

            steps.Add((ordered.Count, lanes[g]));
        }

        return new NodePlan(ordered, steps);
    }

    /// <summary>Sets whether node scripts are used, when a test says so instead of the servers.</summary>
    private void InitializeNodeScripts(bool? nodeScripts)
    {
        if (nodeScripts is not { } usable || _batcher is null)
        {
            return;
        }

        _nodeBatcher = usable ? CreateNodeBatcher() : null;
        _nodeScriptState = usable ? NodeScriptState.Usable : NodeScriptState.Unusable;
    }

    private RedisScriptBatcher CreateNodeBatcher()
    {
        _connection.KeepLoaded(s_acquireManyAcrossSlotsScript);
        return new(_scripts, s_acquireManyAcrossSlotsScript, _timeProvider, _maxQueueWait, _logger, Track, always: true, keysAsArguments: true);
    }

    /// <summary>Whether the node batcher may be used: starts the look at the servers when none is known or under way.</summary>
    private bool NodeScriptsUsable()
    {
        int state = Volatile.Read(ref _nodeScriptState);
        if (state == NodeScriptState.Unknown && _timeProvider.GetTimestamp() >= Interlocked.Read(ref _nodeScriptRetryAt) && _batcher is not null)
        {
            lock (_nodeScriptGate)
            {
                if (_nodeScriptState == NodeScriptState.Unknown)
                {
                    _nodeScriptState = NodeScriptState.Detecting;
                    _nodeScriptDetection = DetectNodeScriptsAsync();
                }
            }
        }

        return state == NodeScriptState.Usable;
    }

    /// <summary>
    /// Asks every primary which server it is: node scripts need Redis 7 (or Valkey); Garnet's handling of undeclared
    /// keys in a cluster is not verified, so it keeps the slot-by-slot path.
    /// </summary>
    private async Task DetectNodeScriptsAsync()
    {
        try
        {
            IReadOnlyList<RedisPrimaryInfo> primaries = await new RedisPrimaryInfoReader(_connection, _timeProvider).ReadAsync().ConfigureAwait(false);
            bool usable = CanRunNodeScripts(primaries);
            if (usable)
            {
                _nodeBatcher = CreateNodeBatcher();
            }

            Volatile.Write(ref _nodeScriptState, usable ? NodeScriptState.Usable : NodeScriptState.Unusable);
            Log.NodeScriptsDetected(_logger, usable, primaries.Count);
        }
#pragma warning disable CA1031 // Not knowing the servers only keeps the slot-by-slot path; the store's own calls report Redis's failures.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Interlocked.Exchange(ref _nodeScriptRetryAt, _timeProvider.GetTimestamp() + (long)(s_nodeScriptDetectionRetry.TotalSeconds * _timeProvider.TimestampFrequency));
            Volatile.Write(ref _nodeScriptState, NodeScriptState.Unknown);
            Exception shown = LogValue.Of(ex);
            Log.NodeScriptDetectionFailed(_logger, shown);
        }
    }

    /// <summary>
    /// Whether every primary runs node scripts: Redis or Valkey 7 or later (<c>allow-cross-slot-keys</c> is Redis 7's),
    /// with scripts allowed. Garnet's handling of undeclared keys on a cluster is not verified, so it keeps the
    /// slot-by-slot path; so does a cluster whose primaries could not be read.
    /// </summary>
    /// <param name="primaries">What each primary said.</param>
    /// <returns>True when node scripts may be used.</returns>
    internal static bool CanRunNodeScripts(IReadOnlyList<RedisPrimaryInfo> primaries)
    {
        bool usable = primaries.Count > 0;
        foreach (RedisPrimaryInfo primary in primaries)
        {
            RedisServerInfo server = RedisServerInfo.Parse(primary.Endpoint, primary.Info);
            usable &= primary.Refusal is null && server.RedisMajorVersion >= 7
                && (string.Equals(server.Name, "redis", StringComparison.OrdinalIgnoreCase) || string.Equals(server.Name, "valkey", StringComparison.OrdinalIgnoreCase));
        }

        return usable;
    }

    /// <summary>The states of <see cref="_nodeScriptState"/>.</summary>
    private static class NodeScriptState
    {
        public const int Unknown = 0;
        public const int Detecting = 1;
        public const int Usable = 2;
        public const int Unusable = 3;
    }

    /// <summary>
    /// The slot groups of an acquire ordered node by node, and the steps: where each node's groups end in
    /// <see cref="Groups"/>, and its lane.
    /// </summary>
    private sealed record NodePlan(List<int[]> Groups, List<(int End, int Lane)> Steps)
    {
        /// <summary>The requests of the groups from <paramref name="start"/> to <paramref name="end"/>, in call order.</summary>
        public int[] Members(int start, int end)
        {
            if (end - start == 1)
            {
                return Groups[start];
            }

            int count = 0;
            for (int g = start; g < end; g++)
            {
                count += Groups[g].Length;
            }

            int[] members = new int[count];
            int at = 0;
            for (int g = start; g < end; g++)
            {
                Groups[g].CopyTo(members, at);
                at += Groups[g].Length;
            }

            // In call order, as one script over one slot takes them: a denial then names the first denied request of the
            // call, as every store does.
            Array.Sort(members);
            return members;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2790, EventName = "RedisNodeScriptsDetected", Level = LogLevel.Debug,
            Message = "Acquires across Redis Cluster slots are decided node by node: {Usable} ({Primaries} primaries asked; Redis or Valkey 7 or later on every one is required).")]
        public static partial void NodeScriptsDetected(ILogger logger, bool usable, int primaries);

        [LoggerMessage(EventId = 2791, EventName = "RedisNodeScriptDetectionFailed", Level = LogLevel.Debug,
            Message = "Which servers the Redis Cluster runs could not be read; acquires across slots are decided slot by slot until the next look.")]
        public static partial void NodeScriptDetectionFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 2792, EventName = "RedisNodeScriptFellBack", Level = LogLevel.Debug,
            Message = "A node script of an acquire over {Slots} hash slots met a key its node does not serve ({Reason}); nothing was counted there, and the acquire is decided slot by slot.")]
        public static partial void NodeScriptFellBack(ILogger logger, int slots, string reason);
    }
}
