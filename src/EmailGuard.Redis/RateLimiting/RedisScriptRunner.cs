using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Runs the store's Lua scripts: by SHA (EVALSHA), and, when a node refuses one before running it, recovers on the
/// one path every script shares: by its text after <c>NOSCRIPT</c>, by its SHA again after a short backoff while a
/// Redis Cluster slot moves, by its SHA again once the connection has looked for the primary after a server refused it
/// as a read-only replica (<c>READONLY</c>).
/// </summary>
/// <remarks>
/// <para>
/// A node answers <c>NOSCRIPT</c> when it lost its script cache (SCRIPT FLUSH, a restart, a failover to a replica that
/// never saw the script) or never had it. The connection loads every script on each node when it connects and when it
/// reconnects (<see cref="RedisScriptPreloader"/>), so this is the exception: a flush, or a call that overtook a load. While a partition's slot migrates, a script whose keys are partly on the old
/// node and partly not is refused with <c>TRYAGAIN</c>, and a node may answer <c>ASK</c> or <c>MOVED</c> that the
/// client could not follow on its own. Every such refusal comes before the script runs, so nothing was counted and
/// the script is sent again until it runs or the retry budget is spent.
/// </para>
/// <para>
/// A <c>READONLY</c> refusal comes from a server that became a replica without the client noticing (a failover). A
/// replica refuses every write, and every script fails at its first write when refused (see the scripts), so nothing
/// was counted: the script waits until the connection has looked for the primary since it was sent
/// (<see cref="RedisConnection.PrimaryFoundAsync"/>) and goes again, within the same budget. When the budget runs out
/// first it fails with its refusal, as before, and the policy's failure mode answers it.
/// </para>
/// <para>
/// The budget is half the resilience timeout, counted from the start of the store call, so that a slot that stays
/// half-moved longer than a call may take is answered with <see cref="RateLimitStoreBusyException"/> well before the
/// resilience wrapper's own timeout fires, even on a loaded machine: the wrapper then denies the call without counting
/// a store failure, instead of opening the circuit (and with it the failure mode) for every key of a store that is
/// healthy.
/// </para>
/// </remarks>
internal sealed partial class RedisScriptRunner
{
    /// <summary>The longest pause between two attempts: a slot's keys move in milliseconds.</summary>
    private const int MaxBackoffMilliseconds = 16;

    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TimeSpan _slotRetryBudget;
    private readonly RedisConnection? _connection;

    /// <param name="timeProvider">The clock the retry budget is measured with.</param>
    /// <param name="logger">The store's logger.</param>
    /// <param name="slotRetryBudget">How long, from the start of a store call, a moving slot is retried.</param>
    /// <param name="connection">The connection told of a read-only refusal, so that it looks for the primary again.</param>
    public RedisScriptRunner(TimeProvider timeProvider, ILogger logger, TimeSpan slotRetryBudget, RedisConnection? connection = null)
    {
        _timeProvider = timeProvider;
        _logger = logger;
        _slotRetryBudget = slotRetryBudget;
        _connection = connection;
    }

    /// <summary>How many times the connection has looked for the primary; read just before a send (see <see cref="PrimaryFoundAsync"/>).</summary>
    public int PrimarySearches => _connection?.PrimarySearches ?? 0;

    /// <summary>
    /// After a send made when <see cref="PrimarySearches"/> read <paramref name="seen"/> was refused as a read-only
    /// replica (the whole script, or batch members): waits, within the retry budget counted from
    /// <paramref name="startedAt"/>, until the connection has looked for the primary since
    /// (<see cref="RedisConnection.PrimaryFoundAsync"/>).
    /// </summary>
    /// <param name="refusal">The refusal's message.</param>
    /// <param name="seen">What <see cref="PrimarySearches"/> read before the send.</param>
    /// <param name="resends">How many times the script was already sent again after such a refusal.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the retry budget counts from there.</param>
    /// <param name="what">The script, for the log.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>Whether to send it again; else it fails with its refusal, as before.</returns>
    public ValueTask<bool> PrimaryFoundAsync(string refusal, int seen, int resends, long startedAt, string what, CancellationToken cancellationToken)
        => _connection is null
            ? new(false)
            : _connection.PrimaryFoundAsync(refusal, seen, resends, startedAt, _slotRetryBudget, _timeProvider, what, cancellationToken);

    /// <summary>A refusal as a read-only replica, which the runner sends again when it has a connection to look for the primary with.</summary>
    private bool IsReplicaRefusal(RedisServerException exception) => _connection is not null && RedisPrimaryRefresh.IsReplicaRefusal(exception.Message);

    /// <summary>
    /// Sends the script unless the caller has already cancelled (a call cancelled before it is sent takes nothing),
    /// and recovers when it is refused. Not cut by the token once sent: a completed task means the script ran.
    /// </summary>
    /// <param name="database">The database.</param>
    /// <param name="script">The script.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the retry budget counts from there.</param>
    /// <param name="cancellationToken">The caller's token, checked before each attempt.</param>
    /// <returns>The script's reply.</returns>
    public Task<RedisResult> SendAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
        => cancellationToken.IsCancellationRequested
            ? Task.FromCanceled<RedisResult>(cancellationToken)
            : SendCoreAsync(database, script, keys, arguments, startedAt, cancellationToken);

    /// <summary>
    /// Sends a script once, by its SHA, and recovers from nothing: for the batcher, whose batches in flight must be
    /// sent again one after another in the order they were first sent, which it does with <see cref="IsRecoverable"/>
    /// and <see cref="RecoverAsync"/> as it answers them.
    /// </summary>
    /// <param name="database">The database.</param>
    /// <param name="script">The script.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>The script's reply, or its refusal.</returns>
    public static Task<RedisResult> SendOnceAsync(IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments)
        => database.ScriptEvaluateAsync(script.Hash, keys, arguments, script.Flags);

    /// <summary>Whether <see cref="SendAsync"/> recovers from this refusal of <paramref name="script"/> (see <see cref="RecoverAsync"/>).</summary>
    /// <param name="exception">The refusal.</param>
    /// <param name="script">The script refused.</param>
    /// <returns>True for NOSCRIPT, a moving slot the script may follow, and a read-only replica.</returns>
    public bool IsRecoverable(RedisServerException exception, RedisScript script) => IsRetriable(exception, script) || IsReplicaRefusal(exception);

    /// <summary>
    /// Runs a script that takes nothing (a peek, a refund) or whose caller cannot cancel, and waits for it under the
    /// caller's token. <paramref name="startedAt"/> is when the store call began (now when not given).
    /// </summary>
    /// <param name="database">The database.</param>
    /// <param name="script">The script.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="startedAt">When the store call began (a timestamp).</param>
    /// <returns>The script's reply.</returns>
    public Task<RedisResult> EvaluateAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, CancellationToken cancellationToken, long? startedAt = null)
        => WithCancellation(SendAsync(database, script, keys, arguments, startedAt ?? _timeProvider.GetTimestamp(), cancellationToken), cancellationToken);

    /// <summary>Waits for <paramref name="task"/> under the caller's token, without allocating when it cannot be cancelled.</summary>
    /// <typeparam name="T">The result.</typeparam>
    /// <param name="task">The task.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The task, or one that stops waiting when the token is cancelled.</returns>
    public static Task<T> WithCancellation<T>(Task<T> task, CancellationToken cancellationToken)
        => cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;

    private static bool IsNoScript(RedisServerException exception) => exception.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal);

    private static bool IsSlotMoving(RedisServerException exception)
    {
        string message = exception.Message;
        return message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || message.StartsWith("ASK ", StringComparison.Ordinal)
            || message.StartsWith("MOVED ", StringComparison.Ordinal);
    }

    /// <summary>
    /// Refusals that come before the script runs and that another attempt can overcome. A script sent without
    /// redirects (<see cref="RedisScript.Flags"/>) gets <c>ASK</c> and <c>MOVED</c> back as they came: its caller decides
    /// another way.
    /// </summary>
    private static bool IsRetriable(RedisServerException exception, RedisScript script)
        => IsNoScript(exception)
        || (IsSlotMoving(exception) && (script.Flags == CommandFlags.None || exception.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)));

    private async Task<RedisResult> SendCoreAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
    {
        int searches = PrimarySearches;
        try
        {
            return await SendOnceAsync(database, script, keys, arguments).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (IsRecoverable(ex, script))
        {
            return await RecoverAsync(database, script, keys, arguments, ex, searches, startedAt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a refused script again until it runs: by its text after NOSCRIPT, by its SHA after a short backoff while
    /// its slot moves, by its SHA once the connection has looked for the primary after a read-only refusal. The caller's
    /// token stops it only between attempts (a cancelled caller is never charged by a retry it did not wait for); an
    /// attempt once sent is awaited, so a completed task means the script ran.
    /// </summary>
    /// <exception cref="RateLimitStoreBusyException">The slot was still moving when the retry budget ran out.</exception>
    /// <exception cref="RedisServerException">
    /// A read-only refusal when the connection did not find the primary within the retry budget: the call fails as
    /// before, and its failure mode answers it.
    /// </exception>
    /// <param name="database">The database.</param>
    /// <param name="script">The script.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="refusal">The refusal of its last send.</param>
    /// <param name="searches">What <see cref="PrimarySearches"/> read before its last send.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the retry budget counts from there.</param>
    /// <param name="cancellationToken">The caller's token, checked before each attempt.</param>
    /// <returns>The script's reply.</returns>
    public async Task<RedisResult> RecoverAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, RedisServerException refusal, int searches, long startedAt,
        CancellationToken cancellationToken)
    {
        int attempt = 0;
        int resends = 0;
        while (true)
        {
            try
            {
                if (IsNoScript(refusal))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    searches = PrimarySearches;
                    return await EvaluateTextAsync(database, script, keys, arguments).ConfigureAwait(false);
                }

                if (IsReplicaRefusal(refusal))
                {
                    if (!await PrimaryFoundAsync(refusal.Message, searches, resends, startedAt, script.Name, cancellationToken).ConfigureAwait(false))
                    {
                        ExceptionDispatchInfo.Throw(refusal);
                    }

                    resends++;
                    cancellationToken.ThrowIfCancellationRequested();
                    searches = PrimarySearches;
                    return await database.ScriptEvaluateAsync(script.Hash, keys, arguments, script.Flags).ConfigureAwait(false);
                }

                TimeSpan waited = _timeProvider.GetElapsedTime(startedAt);
                if (waited >= _slotRetryBudget)
                {
                    Log.SlotStillMoving(_logger, script.Name, attempt, waited, LogValue.Of(refusal.Message));
                    throw new RateLimitStoreBusyException(
                        $"The Redis Cluster slot of this call was still moving after {attempt} attempts in {waited.TotalMilliseconds:0} ms; nothing was counted.",
                        refusal);
                }

                if (attempt == 0)
                {
                    string shownRefusal = LogValue.Of(refusal.Message);
                    Log.SlotMoving(_logger, script.Name, shownRefusal);
                }

                TimeSpan backoff = TimeSpan.FromMilliseconds(Math.Min(MaxBackoffMilliseconds, 1 << Math.Min(attempt, 4)));
                attempt++;
                await Task.Delay(backoff, _timeProvider, cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                searches = PrimarySearches;
                return await database.ScriptEvaluateAsync(script.Hash, keys, arguments, script.Flags).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (!ReferenceEquals(ex, refusal) && (IsRetriable(ex, script) || IsReplicaRefusal(ex)))
            {
                refusal = ex;
            }
        }
    }

    /// <summary>
    /// Runs a script by its text after the server answered NOSCRIPT. EVAL runs the script and caches it again on that
    /// node, so the next EVALSHA succeeds. Sent as a raw command, routed by its keys, so that the client's own script
    /// cache cannot turn it back into an EVALSHA.
    /// </summary>
    private Task<RedisResult> EvaluateTextAsync(IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments)
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

        return database.ExecuteAsync("EVAL", (ICollection<object>)command, script.Flags);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, EventName = "RedisScriptReloaded", Level = LogLevel.Debug,
            Message = "A Redis node did not have the EmailGuard '{Script}' script cached (SCRIPT FLUSH, restart or failover, or a call that came before the connection's load); it was sent with EVAL.")]
        public static partial void ScriptReloaded(ILogger logger, string script);

        [LoggerMessage(EventId = 1300, EventName = "RedisSlotMoving", Level = LogLevel.Debug,
            Message = "A Redis Cluster node refused the EmailGuard '{Script}' script while its slot moves ({Refusal}); it is sent again.")]
        public static partial void SlotMoving(ILogger logger, string script, string refusal);

        [LoggerMessage(EventId = 1301, EventName = "RedisSlotStillMoving", Level = LogLevel.Warning,
            Message = "The Redis Cluster slot of an EmailGuard '{Script}' script was still moving after {Attempts} attempts in {Waited} ({Refusal}); the call is denied as store-unavailable, nothing was counted.")]
        public static partial void SlotStillMoving(ILogger logger, string script, int attempts, TimeSpan waited, string refusal);
    }
}
