using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Sends acquire scripts through <see cref="RedisScriptBatcher"/> when batching across keys is on: one lane per
/// node on a single server, one per hash slot on a cluster (a script's keys must share a slot there). An acquire that
/// waits for replicas goes alone over its own connection: its <c>WAIT</c> must follow its script there.
/// </summary>
internal sealed partial class RedisRateLimitStore
{
    private static readonly RedisValue s_kindOneClient = "c";
    private static readonly RedisValue s_kindOneServer = "s";
    private static readonly RedisValue s_kindOneClientRepeat = "C";
    private static readonly RedisValue s_kindOneServerRepeat = "S";

    private readonly RedisScriptBatcher? _batcher;

    /// <summary>The batcher, or null when batching across keys is off; for tests.</summary>
    internal RedisScriptBatcher? Batcher => _batcher;

    /// <summary>
    /// Sends an acquire script alone or in its lane's next batch; the contract of <see cref="RedisScriptRunner.SendAsync"/>.
    /// The task is awaited (or turned into a <see cref="Task"/>) exactly once: a batched one is a pooled member's.
    /// </summary>
    private ValueTask<RedisResult> SendAcquireAsync(IDatabase database, RedisScript script, in RedisScriptCall call, long startedAt, CancellationToken cancellationToken)
    {
        if (IsReplicaWaitDatabase(database))
        {
            return new(_waitScripts!.SendAsync(database, script, call.Keys, call.Arguments, startedAt, cancellationToken));
        }

        if (_batcher is not { } batcher || call.KeyCount == 0)
        {
            return new(_scripts.SendAsync(database, script, call.Keys, call.Arguments, startedAt, cancellationToken));
        }

        // The member's kind in the batch script's layout also tells it how many keys and arguments the member has.
        (RedisValue kind, RedisValue repeatKind, int argumentCount) = ReferenceEquals(script, s_acquireScript) ? (call.KeyCount, -call.KeyCount, 5 + (4 * call.KeyCount))
            : ReferenceEquals(script, s_acquireOneClientScript) ? (s_kindOneClient, s_kindOneClientRepeat, 3)
            : ReferenceEquals(script, s_acquireOneServerScript) ? (s_kindOneServer, s_kindOneServerRepeat, 4)
            : throw new InvalidOperationException($"The '{script.Name}' script cannot be batched.");
        if (call.ArgumentCount != argumentCount || (call.KeyCount != 1 && !ReferenceEquals(script, s_acquireScript)))
        {
            throw new InvalidOperationException($"The '{script.Name}' script was given {call.KeyCount} keys and {call.ArgumentCount} arguments, not its batch layout's.");
        }

        int lane = _connection.IsCluster ? database.Multiplexer.HashSlot(call.FirstKey) : 0;
        return batcher.SendAsync(database, lane, script, kind, repeatKind, call, startedAt, cancellationToken);
    }
}
