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
/// <c>WAIT</c> covers every write made before it on the connection, which the store shares with other callers: it
/// may wait for more than this acquire, never for less. Such acquires skip the coalescing single-key path, so that
/// each one is acknowledged before it is answered.
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    private int _waitForReplicas;
    private long _waitForReplicasMaxLimit;
    private long _waitForReplicasTimeoutMs;

    private void ConfigureReplicaWait(RedisRateLimitStoreOptions options)
    {
        _waitForReplicas = options.WaitForReplicas;
        _waitForReplicasMaxLimit = options.WaitForReplicasMaxLimit;
        _waitForReplicasTimeoutMs = Math.Max(1, (long)options.WaitForReplicasTimeout.TotalMilliseconds);
    }

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
    private async Task EnsureReplicatedAsync(ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, long acquiredAtMs, long decidedAtMs)
    {
        IConnectionMultiplexer multiplexer = await _connection.GetMultiplexerAsync().ConfigureAwait(false);
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
        [LoggerMessage(EventId = 1306, EventName = "RedisReplicasDidNotAcknowledge", Level = LogLevel.Warning,
            Message = "{Acknowledged} of {Required} replica(s) acknowledged an acquire of a high-value limit within {TimeoutMs} ms; it was given back and fails, so the failure mode applies.")]
        public static partial void ReplicasDidNotAcknowledge(ILogger logger, long acknowledged, int required, long timeoutMs);
    }
}
