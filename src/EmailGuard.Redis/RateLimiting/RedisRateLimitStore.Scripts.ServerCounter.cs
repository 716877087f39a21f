namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Lua shared by the scripts that read or write server-time fixed-window counters.
    /// </summary>
    /// <remarks>
    /// <para>A counter belongs to the window that ends at <c>e</c> and expires one millisecond later, at <c>e + 1</c>.
    /// Servers disagree on the expiry millisecond itself: Redis keeps a key alive through it, Garnet drops a key up to
    /// a fraction of a millisecond before it begins, by a clock slightly ahead of its own <c>TIME</c>. A counter that
    /// expired at <c>e</c> could thus vanish on Garnet while <c>TIME</c> still named its window's last millisecond, and
    /// the next acquire would start that window over with a fresh count. So the scripts never infer the window from a
    /// key's mere existence or from <c>PTTL</c>: they read the key's absolute expiry (<c>PEXPIRETIME</c>) and the
    /// server's <c>TIME</c>, and a key still alive at or after its window's end counts as empty. A counter therefore
    /// lives through its window's last millisecond on both servers, and never counts in the next window on either.</para>
    /// <para>Earlier versions expired a counter at its window's end (<c>e</c>) or last millisecond (<c>e - 1</c>);
    /// <c>counter_end</c> still reads both, so counters written before an upgrade keep counting (for windows of one or
    /// two milliseconds the three cannot be told apart, and the current layout wins). <c>window_end</c> is the end of
    /// the window that holds <c>now</c>; <c>counter_end</c> reads a counter's window end from its expiry (nil for a
    /// counter without one, or with an expiry this store never sets); <c>set_counter</c> writes a counter and its
    /// expiry with <c>SET</c> then <c>PEXPIREAT</c>, the subset Redis 7 and Garnet share (Garnet has no
    /// <c>SET … PXAT</c>). Nothing between the two can fail, so a counter never stays without its expiry.</para>
    /// </remarks>
    private const string ServerCounterLua = """
        local function counter_end(key, w)
          local t = redis.call('PEXPIRETIME', key)
          if t < 0 then return nil end
          if (t - 1) % w == 0 then return t - 1 end
          if t % w == 0 then return t end
          if (t + 1) % w == 0 then return t + 1 end
          return nil
        end
        local function window_end(now, w) return (math.floor(now / w) + 1) * w end
        local function set_counter(key, value, e)
          redis.call('SET', key, value)
          redis.call('PEXPIREAT', key, string.format('%d', e + 1))
        end
        local function server_now()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end

        """;
}
