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
/// connections: it answers every script with <c>READONLY</c> after the script's reads, at its first write, so nothing
/// was counted, and without this every acquire followed the policy's failure mode until the next check.
/// </para>
/// <para>
/// One reconfiguration runs at a time, in the background, and a refused call waits for one that ended after the call
/// was sent (<see cref="SearchedSince"/>), then is sent again: the one running, or one that ended meanwhile. Only a
/// call sent after the last reconfiguration ended, and still refused, starts another, no sooner than a second after the
/// last one started: a flood's refusals cost one round of <c>INFO</c> per server, not one per call. The
/// reconfiguration raises the multiplexer's configuration-changed event, on which <see cref="RedisScriptPreloader"/>
/// loads the scripts on the new primary.
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
    private int _searches;

    /// <param name="timeProvider">The clock that spaces reconfigurations.</param>
    /// <param name="logger">The connection's logger.</param>
    public RedisPrimaryRefresh(TimeProvider timeProvider, ILogger logger)
    {
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Gets how many reconfigurations were started; for tests.</summary>
    internal int Started => Volatile.Read(ref _started);

    /// <summary>
    /// Gets how many reconfigurations have ended: read before a command is sent, so that a refusal of it can tell
    /// whether the client has looked for the primary since (<see cref="SearchedSince"/>).
    /// </summary>
    public int Searches => Volatile.Read(ref _searches);

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
    /// After a <c>READONLY</c> refusal of a command sent when <see cref="Searches"/> read <paramref name="seen"/>:
    /// completes once a reconfiguration has ended since, so that the command can be sent again where the client now
    /// routes it. That is at once when one ended meanwhile, the running one when one runs, else a new one, started a
    /// second after the last one started at the soonest: the command went to a replica after the last search ended, so
    /// what it found is out of date already. Never throws, never waits.
    /// </summary>
    /// <param name="seen">What <see cref="Searches"/> read before the refused command was sent.</param>
    /// <param name="refusal">The refusal, for the log.</param>
    /// <returns>A task that completes, and never faults, when a reconfiguration has ended since.</returns>
    public Task SearchedSince(int seen, string refusal)
    {
        lock (_gate)
        {
            if (_searches != seen || _multiplexer is null)
            {
                return Task.CompletedTask;
            }

            if (_refreshing.IsCompleted)
            {
                TimeSpan spacing = SpacingLeft();
                StartLocked(_multiplexer, refusal, spacing > TimeSpan.Zero ? spacing : TimeSpan.Zero);
            }

            return _refreshing;
        }
    }

    /// <summary>How long until a second has passed since the last reconfiguration started; zero or less when it has.</summary>
    private TimeSpan SpacingLeft()
        => _started == 0 ? TimeSpan.Zero : s_minInterval - _timeProvider.GetElapsedTime(_lastStarted);

    private void StartLocked(IConnectionMultiplexer multiplexer, string refusal, TimeSpan delay)
    {
        // Counted from the scheduled start, so that the next one keeps its second's distance from this one.
        _lastStarted = _timeProvider.GetTimestamp() + (long)(delay.TotalSeconds * _timeProvider.TimestampFrequency);
        _started++;
        _refreshing = RefreshAsync(multiplexer, refusal, delay);
    }

    private async Task RefreshAsync(IConnectionMultiplexer multiplexer, string refusal, TimeSpan delay)
    {
        // Off the caller's thread: the caller is failing or holding a call and must not wait for a round of INFO.
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, _timeProvider).ConfigureAwait(false);
        }
        else
        {
            await Task.Yield();
        }

        Log.Refreshing(_logger, LogValue.Of(refusal));
        try
        {
            bool configured = await multiplexer.ConfigureAsync().ConfigureAwait(false);
            if (_logger.IsEnabled(LogLevel.Information))
            {
                string primaries = string.Join(", ", multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica).Select(s => s.EndPoint));
                string shownPrimaries = LogValue.Of(primaries);
                Log.Refreshed(_logger, configured, shownPrimaries);
            }
        }
#pragma warning disable CA1031 // A failed reconfiguration leaves the next refusal (or the client's own periodic check) to find the primary.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.RefreshFailed(_logger, LogValue.Of(ex));
        }
        finally
        {
            Interlocked.Increment(ref _searches);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2947, EventName = "RedisReplicaRefusedWrite", Level = LogLevel.Warning,
            Message = "A Redis server refused an EmailGuard script as a read-only replica ({Refusal}): a failover the client has not seen. Nothing was written; the connection looks for the primary again, and the refused calls are sent there within their budget.")]
        public static partial void Refreshing(ILogger logger, string refusal);

        [LoggerMessage(EventId = 2948, EventName = "RedisPrimaryRefreshed", Level = LogLevel.Information,
            Message = "EmailGuard's Redis connection looked for the primary again after a read-only refusal (configured: {Configured}); primaries now: {Primaries}.")]
        public static partial void Refreshed(ILogger logger, bool configured, string primaries);

        [LoggerMessage(EventId = 2949, EventName = "RedisPrimaryRefreshFailed", Level = LogLevel.Warning,
            Message = "EmailGuard's Redis connection could not look for the primary again after a read-only refusal; the next refusal tries again.")]
        public static partial void RefreshFailed(ILogger logger, Exception exception);
    }
}
