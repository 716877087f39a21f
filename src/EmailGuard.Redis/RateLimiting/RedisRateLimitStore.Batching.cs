using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Sends acquire scripts through <see cref="RedisScriptBatcher"/> when batching across keys is on: one lane per
/// node on a single server, one per hash slot on a cluster (a script's keys must share a slot there).
/// </summary>
internal sealed partial class RedisRateLimitStore
{
    private static readonly RedisValue s_kindAcquire = "a";
    private static readonly RedisValue s_kindOneClient = "c";
    private static readonly RedisValue s_kindOneServer = "s";

    private readonly RedisScriptBatcher? _batcher;

    /// <summary>The batcher, or null when batching across keys is off; for tests.</summary>
    internal RedisScriptBatcher? Batcher => _batcher;

    /// <summary>
    /// Sends an acquire script alone or in its lane's next batch; the contract of <see cref="RedisScriptRunner.SendAsync"/>.
    /// The task is awaited (or turned into a <see cref="Task"/>) exactly once: a batched one is a pooled member's.
    /// </summary>
    private ValueTask<RedisResult> SendAcquireAsync(IDatabase database, RedisScript script, in RedisScriptCall call, long startedAt, CancellationToken cancellationToken)
    {
        if (_batcher is not { } batcher || call.KeyCount == 0)
        {
            return new(_scripts.SendAsync(database, script, call.Keys, call.Arguments, startedAt, cancellationToken));
        }

        RedisValue kind = ReferenceEquals(script, s_acquireScript) ? s_kindAcquire
            : ReferenceEquals(script, s_acquireOneClientScript) ? s_kindOneClient
            : ReferenceEquals(script, s_acquireOneServerScript) ? s_kindOneServer
            : throw new InvalidOperationException($"The '{script.Name}' script cannot be batched.");
        int lane = _connection.IsCluster ? database.Multiplexer.HashSlot(call.FirstKey) : 0;
        return batcher.SendAsync(database, lane, script, kind, call, startedAt, cancellationToken);
    }
}
