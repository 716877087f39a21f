namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Clears counters and leaves a tombstone beside each, holding the reset's time, so that a later refund of
    /// permits taken before the reset does not come out of permits taken after it.
    /// </summary>
    /// <remarks>
    /// KEYS: n counters, then their n tombstones. ARGV: now in Unix ms (negative: the server's TIME), the tombstones'
    /// TTL ms (a window plus the expiry grace: no refund of the window can come later).
    /// </remarks>
    internal const string ResetScriptText = ServerCounterLua + """
        local now = tonumber(ARGV[1])
        if now < 0 then now = server_now() end
        local n = #KEYS / 2
        for i = 1, n do
          redis.call('DEL', KEYS[i])
          redis.call('SET', KEYS[n + i], string.format('%d', now), 'PX', ARGV[2])
        end
        return 0
        """;
}
