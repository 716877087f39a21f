using System.Net;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Acquires of low-volume, high-value limits acknowledged by replicas (<see cref="RedisRateLimitStoreOptions.WaitForReplicas"/>).
/// Redis replicates asynchronously: a master that dies takes with it the permits its replicas had not received, and a
/// promoted replica that lagged admits them again (after a takeover from a replica whose link was down, a whole
/// window). <c>WAIT</c> after the script makes the admission wait until the replicas have it, so a failover to one of
/// them forgets nothing that was admitted.
/// </summary>
/// <remarks>
/// <para>
/// Redis blocks the client connection a <c>WAIT</c> is sent on until the replicas acknowledge or the timeout passes.
/// On the connection every other acquire of the instance shares, one acquire waiting for a lagging replica held all of
/// them for up to the timeout. Such acquires therefore go over a connection of their own
/// (<see cref="RedisConnection.ReplicaWaitConnection"/>), script and <c>WAIT</c> both: <c>WAIT</c> covers only the
/// writes made before it on its connection. It covers every one of them, so it may wait for more than this acquire
/// (another high-value acquire's), never for less.
/// </para>
/// <para>
/// Such acquires skip the coalescing single-key path and the batchers, whose scripts go over the shared connection
/// and carry other acquires, so that each one is acknowledged before it is answered. A multiplexer the app supplied
/// cannot be copied: there the acquires and their <c>WAIT</c> share it, as before, and the store says so once (3039).
/// </para>
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    private int _waitForReplicas;
    private long _waitForReplicasMaxLimit;
    private long _waitForReplicasTimeoutMs;

    /// <summary>The connection of acquires that wait for replicas, when it is not the shared one; else null.</summary>
    private RedisConnection? _waitConnection;

    /// <summary>The script runner of <see cref="_waitConnection"/>, which looks for the primary on that connection.</summary>
    private RedisScriptRunner? _waitScripts;

    private void ConfigureReplicaWait(RedisRateLimitStoreOptions options)
    {
        _waitForReplicas = options.WaitForReplicas;
        _waitForReplicasMaxLimit = options.WaitForReplicasMaxLimit;
        _waitForReplicasTimeoutMs = Math.Max(1, (long)options.WaitForReplicasTimeout.TotalMilliseconds);
        if (_waitForReplicas == 0)
        {
            return;
        }

        if (_connection.SharesReplicaWait)
        {
            Log.ReplicaWaitSharesTheConnection(_logger, _waitForReplicas);
            return;
        }

        // Not connected here: the second connection is made at the first acquire that waits for replicas.
        _waitConnection = _connection.ReplicaWaitConnection;
        _waitConnection.KeepLoaded(s_acquireScript, s_refundScript);
        _waitScripts = new RedisScriptRunner(_timeProvider, _logger, _maxQueueWait / 2, _waitConnection);
    }

    /// <summary>The database an acquire goes over: the replica-wait connection's when it waits for replicas and has one.</summary>
    private ValueTask<IDatabase> DatabaseForAsync(bool waitsForReplicas, CancellationToken cancellationToken)
        => (waitsForReplicas && _waitConnection is { } dedicated ? dedicated : _connection).GetDatabaseAsync(cancellationToken);

    /// <summary>Whether <paramref name="database"/> is the replica-wait connection's, whose scripts go alone, never batched.</summary>
    private bool IsReplicaWaitDatabase(IDatabase database)
        => _waitConnection?.ConnectedMultiplexer is { } dedicated && ReferenceEquals(database.Multiplexer, dedicated);

    /// <summary>The script runner of the connection <paramref name="database"/> belongs to.</summary>
    private RedisScriptRunner ScriptsOf(IDatabase database) => IsReplicaWaitDatabase(database) ? _waitScripts! : _scripts;

    private bool NeedsReplicaWait(ReadOnlySpan<RateLimitRequest> requests)
    {
        if (_waitForReplicas == 0)
        {
            return false;
        }

        foreach (ref readonly RateLimitRequest request in requests)
        {
            if (request.Rule.Limit <= _waitForReplicasMaxLimit)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Waits until enough replicas of every master that holds the acquire's counters acknowledged it; otherwise gives
    /// the permits back and throws, so that the acquire is not admitted on a write a failover could forget.
    /// </summary>
    /// <param name="database">The database the acquire's scripts went over: the <c>WAIT</c> goes over the same connection.</param>
    /// <param name="requests">The acquire's requests.</param>
    /// <param name="keys">Their counters.</param>
    /// <param name="acquiredAtMs">When the acquire was decided, for the give-back.</param>
    /// <param name="decidedAtMs">When its decision was taken, for the give-back.</param>
    private async Task EnsureReplicatedAsync(IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, long acquiredAtMs, long decidedAtMs)
    {
        IConnectionMultiplexer multiplexer = database.Multiplexer;
        HashSet<EndPoint> waited = [];
        foreach (RedisKey key in keys)
        {
            IServer server = multiplexer.GetServer(key);
            if (!waited.Add(server.EndPoint))
            {
                continue;
            }

            long acknowledged = (long)await server.ExecuteAsync("WAIT", _waitForReplicas, _waitForReplicasTimeoutMs).ConfigureAwait(false);
            if (acknowledged >= _waitForReplicas)
            {
                continue;
            }

            Log.ReplicasDidNotAcknowledge(_logger, acknowledged, _waitForReplicas, _waitForReplicasTimeoutMs);
            try
            {
                await RefundCoreAsync(requests, acquiredAtMs, decidedAtMs, 0, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The acquire fails either way; a permit left taken only makes the limit stricter.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.CancelledAcquireGiveBackFailed(_logger, LogValue.Of(ex));
            }

            throw new RedisException(
                $"Only {acknowledged} of the {_waitForReplicas} replica(s) required acknowledged the acquire within {_waitForReplicasTimeoutMs} ms; it was given back.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3039, EventName = "RedisReplicaWaitSharesTheConnection", Level = LogLevel.Warning,
            Message = "EmailGuard:Redis:WaitForReplicas is {Required}, and the store uses a multiplexer the app supplied (ConnectionMultiplexerFactory, or one registered in the service collection), "
                + "which it cannot copy: acquires that wait for replicas send their WAIT over it, and while a replica lags every other call on it waits behind that WAIT for up to WaitForReplicasTimeout. "
                + "Set EmailGuard:Redis:Configuration or ConfigurationOptions instead, so that they get a connection of their own.")]
        public static partial void ReplicaWaitSharesTheConnection(ILogger logger, int required);

        [LoggerMessage(EventId = 1306, EventName = "RedisReplicasDidNotAcknowledge", Level = LogLevel.Warning,
            Message = "{Acknowledged} of {Required} replica(s) acknowledged an acquire of a high-value limit within {TimeoutMs} ms; it was given back and fails, so the failure mode applies.")]
        public static partial void ReplicasDidNotAcknowledge(ILogger logger, long acknowledged, int required, long timeoutMs);
    }
}
