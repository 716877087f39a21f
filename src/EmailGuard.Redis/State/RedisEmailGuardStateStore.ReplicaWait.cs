using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Flag and list writes acknowledged by replicas (<see cref="RedisRateLimitStoreOptions.StateWaitForReplicas"/>). Redis
/// replicates asynchronously: a primary that dies takes with it the writes its replicas had not received, and a flag is
/// the write that must not be forgotten (a suspended tenant would send again after the failover, and nothing would say
/// so). <c>WAIT</c> after the write holds the call until the replicas have it.
/// </summary>
/// <remarks>
/// <para>
/// The writes that wait and their <c>WAIT</c> go over <see cref="RedisConnection.ReplicaWaitConnection"/>, not over the
/// connection this instance's rate-limit calls share: Redis blocks the client connection a <c>WAIT</c> is sent on, and
/// <c>WAIT</c> covers only the writes made before it on its own connection.
/// </para>
/// <para>
/// Unlike an acquire that waits for replicas, a write they did not acknowledge is not undone: the primary enforces it
/// now, a clear or a suspension undone would be worse than one at risk, and a caller told it failed would write it again
/// into the same risk. It is reported instead: the metric for each write, the log once until one is acknowledged again.
/// </para>
/// </remarks>
internal sealed partial class RedisEmailGuardStateStore
{
    /// <summary>The counter of flag and list writes by how their replicas acknowledged them.</summary>
    public const string StateReplicationInstrument = "emailguard.store.state_replication";

    private const string OutcomeTag = "emailguard.outcome";

    private int _waitForReplicas;
    private long _waitTimeoutMs;
    private TimeSpan _waitDeadline;
    private Counter<long>? _replication;

    /// <summary>
    /// The connection flag and list writes go over, with their <c>WAIT</c>: <see cref="RedisConnection.ReplicaWaitConnection"/>
    /// when they wait for replicas (the shared one itself when the app supplied the multiplexer), else the shared one.
    /// </summary>
    private RedisConnection _writeConnection = null!;

    /// <summary>
    /// How long writes send no <c>WAIT</c> after one the replicas did not acknowledge. A <c>WAIT</c> holds the connection
    /// it is sent on until its timeout, and the writes queued behind it: sent at every write while a replica lags, a
    /// burst of suppressions (a bounce storm, when replicas lag most) would hold each write, and the high-value acquires
    /// that share that connection, a timeout each (and every check, on a multiplexer the app supplied, which the writes
    /// share with the checks). One probe a period bounds that to one timeout a period; the writes in between count as not
    /// acknowledged, which they are not known to be.
    /// </summary>
    internal static readonly TimeSpan ReplicaWaitBackoff = TimeSpan.FromSeconds(5);

    /// <summary>The timestamp until which writes skip their <c>WAIT</c> (<see cref="ReplicaWaitBackoff"/>); 0 when none.</summary>
    private long _skipWaitUntil;

    /// <summary>
    /// One <c>WAIT</c> in flight at a time. Concurrent writes (a bounce storm's suppressions) all passed the backoff check
    /// before the first <c>WAIT</c> came back and sent one each, which the connection served one after another: ten
    /// timeouts holding every call on it, not one. Behind the gate, the writes after an unacknowledged one see its
    /// backoff and send none.
    /// </summary>
    /// <remarks>A queue of the writes waiting: each waits for the one before it (completed: none).</remarks>
    private Task _waitQueue = Task.CompletedTask;

    /// <summary>The last outcome reported in the log, so that an outage is logged once, not at every write.</summary>
    private int _reported = (int)ReplicaOutcome.Acknowledged;

    /// <summary>The outcome of a write's wait for its replicas.</summary>
    internal enum ReplicaOutcome
    {
        /// <summary>As many replicas as required acknowledged it.</summary>
        Acknowledged,

        /// <summary>Fewer acknowledged within the timeout, or the primary had fewer connected than required (some).</summary>
        NotAcknowledged,

        /// <summary>The primary had no replica connected: a standalone Redis, or one whose replicas' links are down.</summary>
        NoReplica,

        /// <summary>The <c>WAIT</c> itself failed (the connection dropped, the server refused it).</summary>
        Failed,
    }

    private void ConfigureReplicaWait(RedisRateLimitStoreOptions options, TimeSpan timeout, IMeterFactory? meterFactory)
    {
        _waitForReplicas = options.StateWaitForReplicas;

        // Not connected here: a second connection is made at the first write that waits, never when none does.
        _writeConnection = _waitForReplicas == 0 ? _connection : _connection.ReplicaWaitConnection;
        _waitTimeoutMs = Math.Max(1, (long)options.StateWaitForReplicasTimeout.TotalMilliseconds);

        // A quarter of the call's bound stays for the WAIT's reply and the rest of the call, so that a slow
        // acknowledgement is reported as such, never as a write that timed out while it stands on the primary.
        _waitDeadline = timeout * 0.75;
        _replication = _waitForReplicas == 0
            ? null
            : meterFactory?.Create(new MeterOptions(EmailGuardDiagnostics.MeterName)).CreateCounter<long>(
                StateReplicationInstrument,
                unit: "{write}",
                description: "Flag and list writes to Redis by whether the replicas required acknowledged them (acknowledged, not_acknowledged, no_replica, failed).");
    }

    /// <summary>
    /// Waits until the required replicas acknowledged the write just made on this connection, at most the replicas the
    /// primary reported connected, and reports the outcome. Never throws: the write stands whatever the replicas say.
    /// </summary>
    /// <param name="connected">The replicas the write's script counted on its primary; -1 when it could not say.</param>
    /// <param name="started">When the write's call started, for what is left of its bound.</param>
    private async Task AwaitReplicasAsync(long connected, long started)
    {
        if (_waitForReplicas == 0)
        {
            return;
        }

        long target = connected < 0 ? _waitForReplicas : Math.Min(_waitForReplicas, connected);
        if (target == 0)
        {
            Report(ReplicaOutcome.NoReplica, 0, null);
            return;
        }

        // Each turn lasts one WAIT's timeout at most; a write whose time ran out meanwhile sends none (below).
        TaskCompletionSource turn = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task before = Interlocked.Exchange(ref _waitQueue, turn.Task);
        await before.ConfigureAwait(false);
        try
        {
            await WaitForReplicasAsync(target, connected, started).ConfigureAwait(false);
        }
        finally
        {
            turn.SetResult();
        }
    }

    private async Task WaitForReplicasAsync(long target, long connected, long started)
    {
        if (Volatile.Read(ref _skipWaitUntil) is var skipUntil and not 0 && _timeProvider.GetTimestamp() < skipUntil)
        {
            Report(ReplicaOutcome.NotAcknowledged, 0, null, connected, 0);
            return;
        }

        // WAIT 0 would wait for ever: a call with no time left reports its replicas as not acknowledged.
        long left = (long)(_waitDeadline - _timeProvider.GetElapsedTime(started)).TotalMilliseconds;
        long timeoutMs = Math.Min(_waitTimeoutMs, left);
        long acknowledged = 0;
        Exception? failure = null;
        if (timeoutMs >= 1)
        {
            try
            {
                // The state's keys share one hash tag, so one primary holds them all; WAIT covers every write sent
                // before it on that primary's connection, this one included (it went over the same connection).
                IConnectionMultiplexer multiplexer = await _writeConnection.GetMultiplexerAsync().ConfigureAwait(false);
                acknowledged = (long)await multiplexer.GetServer(_version).ExecuteAsync("WAIT", target, timeoutMs).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The write stands; a WAIT that fails only leaves it as unconfirmed as no WAIT at all.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
        }

        ReplicaOutcome outcome = failure is not null ? ReplicaOutcome.Failed
            : acknowledged >= _waitForReplicas ? ReplicaOutcome.Acknowledged
            : ReplicaOutcome.NotAcknowledged;

        // Only a WAIT sent says how the replicas keep up: a write whose call had no time left for one learnt nothing
        // about them, and starting the backoff there would count the writes after it as unconfirmed while in sync.
        if (timeoutMs >= 1)
        {
            Volatile.Write(
                ref _skipWaitUntil,
                outcome == ReplicaOutcome.Acknowledged ? 0 : _timeProvider.GetTimestamp() + (long)(ReplicaWaitBackoff.TotalSeconds * _timeProvider.TimestampFrequency));
        }

        Report(outcome, acknowledged, failure, connected, Math.Max(0, timeoutMs));
    }

    private void Report(ReplicaOutcome outcome, long acknowledged, Exception? failure, long connected = 0, long timeoutMs = 0)
    {
        _replication?.Add(1, new KeyValuePair<string, object?>(OutcomeTag, outcome switch
        {
            ReplicaOutcome.Acknowledged => "acknowledged",
            ReplicaOutcome.NotAcknowledged => "not_acknowledged",
            ReplicaOutcome.NoReplica => "no_replica",
            _ => "failed",
        }));

        // Failed and not acknowledged are one state for the log: the write may be forgotten by a failover.
        int state = outcome == ReplicaOutcome.Failed ? (int)ReplicaOutcome.NotAcknowledged : (int)outcome;
        if (Interlocked.Exchange(ref _reported, state) == state)
        {
            return;
        }

        if (outcome == ReplicaOutcome.NoReplica)
        {
            LogNoReplica(_logger, _waitForReplicas);
        }
        else if (outcome != ReplicaOutcome.Acknowledged)
        {
            LogNotAcknowledged(_logger, acknowledged, _waitForReplicas, connected < 0 ? "unknown" : connected.ToString(System.Globalization.CultureInfo.InvariantCulture), timeoutMs, failure);
        }
    }

    [LoggerMessage(EventId = 3007, EventName = "RedisStateWriteNotReplicated", Level = LogLevel.Warning,
        Message = "{Acknowledged} of the {Required} replica(s) required acknowledged a flag or list write within {TimeoutMs} ms ({Connected} connected to the primary): "
            + "the write stands on the primary and is in force, but a failover now could forget it. Logged once until a write is acknowledged again; emailguard.store.state_replication counts each.")]
    private static partial void LogNotAcknowledged(ILogger logger, long acknowledged, int required, string connected, long timeoutMs, Exception? exception);

    [LoggerMessage(EventId = 3008, EventName = "RedisStateWriteNoReplica", Level = LogLevel.Information,
        Message = "The Redis primary has no replica connected, so flag and list writes do not wait for the {Required} replica(s) of EmailGuard:Redis:StateWaitForReplicas: "
            + "expected on a Redis without replicas (set it to 0 there); with replicas, their links are down and a failover would forget these writes. Logged once until a replica acknowledges a write.")]
    private static partial void LogNoReplica(ILogger logger, int required);
}
