using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Makes the client look for the primary again when a server refused a script's write as a read-only replica: a
/// failover the client has not seen (a replica promoted with <c>REPLICAOF NO ONE</c>, the old primary made its replica).
/// </summary>
/// <remarks>
/// <para>
/// StackExchange.Redis learns of a promotion on its own only from its periodic configuration check (every 60 s by
/// default), from a connection failure, or from Sentinel. An old primary that stays up as a replica fails none of its
/// connections: it answers every script with <c>READONLY</c> after the script's reads, before its first write, so
/// nothing was counted, and without this every acquire followed the policy's failure mode until the next check.
/// </para>
/// <para>
/// One reconfiguration runs at a time, in the background, and a refusal within a second of the last start is
/// absorbed: a flood's refusals cost one round of <c>INFO</c> per server, not one per call. The reconfiguration raises
/// the multiplexer's configuration-changed event, on which <see cref="RedisScriptPreloader"/> loads the scripts on
/// the new primary.
/// </para>
/// </remarks>
internal sealed partial class RedisPrimaryRefresh
{
    private static readonly TimeSpan s_minInterval = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private IConnectionMultiplexer? _multiplexer;
    private Task _refreshing = Task.CompletedTask;
    private long _lastStarted;
    private int _started;

    /// <param name="timeProvider">The clock that spaces reconfigurations.</param>
    /// <param name="logger">The connection's logger.</param>
    public RedisPrimaryRefresh(TimeProvider timeProvider, ILogger logger)
    {
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Gets how many reconfigurations were started; for tests.</summary>
    internal int Started => Volatile.Read(ref _started);

    /// <summary>Completes when the last reconfiguration started has ended; for tests.</summary>
    internal Task Refreshing
    {
        get
        {
            lock (_gate)
            {
                return _refreshing;
            }
        }
    }

    /// <summary>Starts following <paramref name="multiplexer"/>: refusals before this have nothing to reconfigure.</summary>
    /// <param name="multiplexer">The connection's multiplexer.</param>
    public void Attach(IConnectionMultiplexer multiplexer)
    {
        lock (_gate)
        {
            _multiplexer ??= multiplexer;
        }
    }

    /// <summary>Whether <paramref name="message"/> is a server's refusal of a write as a read-only replica.</summary>
    /// <param name="message">An error message, as the server or a batch script's member reported it.</param>
    /// <returns>Whether it starts with <c>READONLY</c>.</returns>
    public static bool IsReplicaRefusal(string message) => message.StartsWith("READONLY", StringComparison.Ordinal);

    /// <summary>
    /// Reconfigures the multiplexer in the background after a <c>READONLY</c> refusal, unless one is running or started
    /// less than a second ago. Never throws, never waits.
    /// </summary>
    /// <param name="refusal">The refusal, for the log.</param>
    public void ReplicaRefused(string refusal)
    {
        IConnectionMultiplexer multiplexer;
        lock (_gate)
        {
            long now = _timeProvider.GetTimestamp();
            if (_multiplexer is null
                || !_refreshing.IsCompleted
                || (_started > 0 && _timeProvider.GetElapsedTime(_lastStarted, now) < s_minInterval))
            {
                return;
            }

            multiplexer = _multiplexer;
            _lastStarted = now;
            _started++;
            _refreshing = RefreshAsync(multiplexer, refusal);
        }
    }

    private async Task RefreshAsync(IConnectionMultiplexer multiplexer, string refusal)
    {
        // Off the caller's thread: the caller is failing a call and must not wait for a round of INFO.
        await Task.Yield();
        Log.Refreshing(_logger, refusal);
        try
        {
            bool configured = await multiplexer.ConfigureAsync().ConfigureAwait(false);
            if (_logger.IsEnabled(LogLevel.Information))
            {
                string primaries = string.Join(", ", multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica).Select(s => s.EndPoint));
                Log.Refreshed(_logger, configured, primaries);
            }
        }
#pragma warning disable CA1031 // A failed reconfiguration leaves the next refusal (or the client's own periodic check) to find the primary.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RefreshFailed(_logger, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2947, EventName = "RedisReplicaRefusedWrite", Level = LogLevel.Warning,
            Message = "A Redis server refused an EmailGuard script as a read-only replica ({Refusal}): a failover the client has not seen. Nothing was counted; the connection looks for the primary again.")]
        public static partial void Refreshing(ILogger logger, string refusal);

        [LoggerMessage(EventId = 2948, EventName = "RedisPrimaryRefreshed", Level = LogLevel.Information,
            Message = "EmailGuard's Redis connection looked for the primary again after a read-only refusal (configured: {Configured}); primaries now: {Primaries}.")]
        public static partial void Refreshed(ILogger logger, bool configured, string primaries);

        [LoggerMessage(EventId = 2949, EventName = "RedisPrimaryRefreshFailed", Level = LogLevel.Warning,
            Message = "EmailGuard's Redis connection could not look for the primary again after a read-only refusal; the next refusal tries again.")]
        public static partial void RefreshFailed(ILogger logger, Exception exception);
    }
}
