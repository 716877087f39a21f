// The store's Lua scripts are in RedisRateLimitStore.Scripts.*.cs, one script or family per file; they share the
// server-time counter layout (RedisRateLimitStore.Scripts.ServerCounter.cs) and the argument and reply formats in
// RedisScriptCodec. This file holds the scripts the store runs and loads.

namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    private static readonly RedisScript s_acquireOneClientScript = new("acquire-one-client", AcquireOneClientScriptText);
    private static readonly RedisScript s_acquireOneServerScript = new("acquire-one-server", AcquireOneServerScriptText);
    private static readonly RedisScript s_acquireBatchScript = new("acquire-batch", AcquireBatchScriptText);
    private static readonly RedisScript s_acquireScript = new("acquire", AcquireScriptText);
    private static readonly RedisScript s_acquireManyScript = new("acquire-many", AcquireManyScriptText);
    private static readonly RedisScript s_refundScript = new("refund", RefundScriptText);
    private static readonly RedisScript s_resetScript = new("reset", ResetScriptText);

    /// <summary>
    /// Has the connection load the scripts this store can run, so that their first calls find them by SHA: a flood's
    /// first window then costs Redis its one admission, not a NOSCRIPT and an EVAL. The node script is added once the
    /// servers are known to run it (<see cref="CreateNodeBatcher"/>): older servers would refuse to load it.
    /// </summary>
    private void KeepScriptsLoaded()
    {
        _connection.KeepLoaded(
            _useServerTime ? s_acquireOneServerScript : s_acquireOneClientScript, s_acquireBatchScript, s_acquireScript, s_refundScript, s_resetScript);
        if (_batcher is not null)
        {
            _connection.KeepLoaded(s_acquireManyScript);
        }
    }
}
