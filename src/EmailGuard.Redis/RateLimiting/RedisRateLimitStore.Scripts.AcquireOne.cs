namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Takes permits from one fixed-window counter of the client-clock layout, the commonest call, in as few Redis
    /// commands as the raw INCRBY + PEXPIRE it replaces: the key is this window's own (its name carries the window
    /// index), so there is nothing to read first.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: the counter. ARGV: limit, cost (at most the limit), TTL ms (the rest of the window + the grace).</para>
    /// <para>Returns the count including this cost; above the limit it was a denial and the cost was taken back.
    /// The TTL is set when the count starts from zero, so a counter never exists without one.</para>
    /// <para>Arguments go to Redis as the strings they arrived as and are compared through Lua's string-to-number
    /// coercion: handing redis.call a Lua number makes Lua format it, which costs more than the rest of the script.</para>
    /// </remarks>
    internal const string AcquireOneClientScriptText = AcquireOneClientFunctionLua + """
        return acquire_one_client(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
        """;

    /// <summary>The body of <see cref="AcquireOneClientScriptText"/> as a Lua function: key, limit, cost, TTL ms.</summary>
    private const string AcquireOneClientFunctionLua = """
        local function acquire_one_client(key, limit, cost, ttl)
          local v = redis.call('INCRBY', key, cost)
          if v == cost + 0 then redis.call('PEXPIRE', key, ttl) end
          if v > limit + 0 then redis.call('DECRBY', key, cost) end
          return v
        end

        """;

    /// <summary>
    /// Takes permits from one fixed-window counter of the server-time layout: the counter's expiry names its window
    /// (see <see cref="ServerCounterLua"/>), which the server's <c>TIME</c> confirms is still the current one.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: the counter. ARGV: limit, cost (at most the limit), window ms, packing factor (a power of two
    /// above the window in ms). The numbers stay below 2^53 (limit and cost at most 2^40, times in ms), so Lua hands
    /// them to Redis as exact integers.</para>
    /// <para>Returns the count including this cost (above the limit: denied, taken back) and the ms left before the
    /// window's last millisecond ends, packed as count × factor + ms in one integer while that stays below 2^53 (an
    /// exact Lua number, since the factor is a power of two: counts up to 2^31 for an hourly window, 2^26 for a daily
    /// one), else as a pair. A reply array costs Redis more than the rest of the script. A counter without a TTL, or
    /// with one longer than a window, was not written by this store and starts its window over. As in the
    /// client-clock script, arguments reach redis.call as strings.</para>
    /// <para>The first write (<c>INCRBY</c>) is the only command that can fail (a key of another type), so a failed
    /// script has written nothing; every later write is paired with its expiry.</para>
    /// </remarks>
    internal const string AcquireOneServerScriptText = ServerCounterLua + AcquireOneServerFunctionLua + """
        return acquire_one_server(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
        """;

    /// <summary>
    /// The body of <see cref="AcquireOneServerScriptText"/> as a Lua function: key, limit, cost, window ms, packing
    /// factor, and in a batch the batch's server time (read once for all members), else nil (the server's TIME now).
    /// </summary>
    private const string AcquireOneServerFunctionLua = """
        local function acquire_one_server(key, limit, cost, window, factor, batchNow)
          local w = tonumber(window)
          local v = redis.call('INCRBY', key, cost)
          local now = batchNow or server_now()
          local e = counter_end(key, w)
          if not e or e <= now or e - w > now then
            -- A new counter, one of an earlier window still alive, or one this store did not write: start the window over.
            v = tonumber(cost)
            e = window_end(now, w)
            set_counter(key, cost, e)
          end
          local ttl = e - 1 - now
          if v > limit + 0 then redis.call('DECRBY', key, cost) end
          local packed = v * factor + ttl
          if packed < 9007199254740992 then return packed end
          return { v, ttl }
        end

        """;
}
