namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Takes several coalesced single-key acquires of one fixed-window counter, in order, each if it still fits: the
    /// same decisions as the same acquires one after another, in one script.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: the counter. ARGV: server-time layout (0/1), window ms, TTL ms for a new client-clock counter,
    /// packing factor, then per acquire: limit, cost.</para>
    /// <para>Returns the count before them; on server time packed with the ms left as in the single-key script. The
    /// caller replays the same rule over the same list to answer each acquire.</para>
    /// </remarks>
    internal const string AcquireBatchScriptText = ServerCounterLua + """
        local key = KEYS[1]
        local server = ARGV[1] == '1'
        local w = tonumber(ARGV[2])
        local c = redis.call('GET', key)
        local count = tonumber(c) or 0
        local ttl = -1
        local now
        if server then
          now = server_now()
          if c then
            local e = counter_end(key, w)
            if not e or e <= now or e - w > now then
              c = false
              count = 0
            else
              ttl = e - 1 - now
            end
          end
        end
        local before = count
        for i = 5, #ARGV, 2 do
          local limit, cost = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
          if count + cost <= limit then count = count + cost end
        end
        local taken = string.format('%d', count - before)
        if not c then
          if server then
            ttl = window_end(now, w) - 1 - now
            if count > before then set_counter(key, taken, window_end(now, w)) end
          elseif count > before then
            redis.call('SET', key, taken, 'PX', ARGV[3])
          end
        elseif count > before then
          redis.call('INCRBY', key, taken)
        end
        if not server then return before end
        local packed = before * ARGV[4] + ttl
        if packed < 9007199254740992 then return packed end
        return { before, ttl }
        """;
}
