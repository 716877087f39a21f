namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Decides a whole acquire or peek in one atomic step: reads every counter, checks every request (costs of
    /// earlier requests on the same counter count as pending), then takes all or nothing. The arithmetic mirrors
    /// <c>InMemoryCounter</c> line by line; the differential test holds the two to identical answers.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: one counter per request (repeats allowed). A counter is a hash: fixed window <c>w</c> (window index)
    /// and <c>c</c> (count); sliding window one field per segment index.</para>
    /// <para>ARGV: commit (0/1), now in Unix ms (negative: the server's TIME), entries wanted (0/1), expiry grace ms,
    /// then per request: limit, window ms, segments (0 for a fixed window), cost.</para>
    /// <para>Returns: now, the 0-based index of the first denied request or -1, the decision's retry-after ms (-1:
    /// never), then, when entries are wanted, per request: fits (0/1), count, retry-after ms (-1: never), reset-at ms.</para>
    /// <para>A single fixed-window request, the commonest call, takes a short path that builds no tables or closures,
    /// and sets the TTL only when it starts the window: the expiry is the window's end plus the grace, the same for
    /// every later write in that window, and the key was created by that same script with it. Its numbers (times, indexes, costs) stay below 10^14,
    /// which Lua passes to Redis as exact integers; the general path formats them with <c>fmt</c> all the same,
    /// since it also handles segment indexes used as field names. Every write is followed by a PEXPIRE in the same
    /// script, so a counter never exists without a TTL.</para>
    /// </remarks>
    internal const string AcquireScriptText = """
        local commit = ARGV[1] == '1'
        local now = tonumber(ARGV[2])
        if now < 0 then
          local t = redis.call('TIME')
          now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local wantEntries = ARGV[3] == '1'
        local grace = tonumber(ARGV[4])
        local n = #KEYS
        local floor = math.floor

        if n == 1 and ARGV[7] == '0' then
          local key = KEYS[1]
          local limit, w, cost = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
          local idx = floor(now / w)
          local reset = (idx + 1) * w
          local v = redis.call('HMGET', key, 'w', 'c')
          local current = v[1] and tonumber(v[1]) == idx
          local count = current and (tonumber(v[2]) or 0) or 0
          if count + cost <= limit then
            if commit then
              if current then
                redis.call('HINCRBY', key, 'c', cost)
              else
                redis.call('HSET', key, 'w', idx, 'c', cost)
                redis.call('PEXPIRE', key, reset - now + grace)
              end
              count = count + cost
            end
            return { now, -1, 0, 1, count, 0, reset }
          end
          local r = cost > limit and -1 or reset - now
          return { now, 0, r, 0, count, r, reset }
        end

        local function fmt(x) return string.format('%d', x) end

        local function load(key, w, s)
          local st = {}
          if s == 0 then
            st.idx = floor(now / w)
            local v = redis.call('HMGET', key, 'w', 'c')
            if v[1] and tonumber(v[1]) == st.idx then
              st.total = tonumber(v[2]) or 0
              st.current = true
            else
              st.total = 0
              st.current = false
            end
          else
            local g = w / s
            local cur = floor(now / g)
            local oldest = cur - s
            local segs, stale, total = {}, {}, 0
            local flat = redis.call('HGETALL', key)
            for k = 1, #flat, 2 do
              local j = tonumber(flat[k])
              if j and j >= oldest and j <= cur then
                local c = tonumber(flat[k + 1]) or 0
                segs[j] = c
                total = total + c
              elseif j and j < oldest then
                stale[#stale + 1] = flat[k]
              end
            end
            st.g, st.cur, st.segs, st.stale, st.total = g, cur, segs, stale, total
          end
          return st
        end

        local function resetAt(st, w, s)
          if s == 0 then return (st.idx + 1) * w end
          for j = st.cur, st.cur - s, -1 do
            if (st.segs[j] or 0) > 0 then return (j + s + 1) * st.g end
          end
          return now
        end

        local states, pending, before, fits, retry = {}, {}, {}, {}, {}
        local denied, maxRetry = -1, 0
        for i = 1, n do
          local key = KEYS[i]
          local b = 4 + (i - 1) * 4
          local limit, w, s, cost = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
          local st = states[key]
          if not st then
            st = load(key, w, s)
            states[key] = st
          end
          local p = pending[key] or 0
          local count = st.total + p
          before[i] = count
          pending[key] = p + cost
          if count + cost <= limit then
            fits[i], retry[i] = 1, 0
          else
            fits[i] = 0
            if denied < 0 then denied = i - 1 end
            local r = -1
            if p + cost <= limit then
              if s == 0 then
                r = (st.idx + 1) * w - now
              else
                local need, freed = count + cost - limit, 0
                for j = st.cur - s, st.cur do
                  freed = freed + (st.segs[j] or 0)
                  if freed >= need then
                    r = (j + s + 1) * st.g - now
                    break
                  end
                end
              end
            end
            retry[i] = r
            if maxRetry >= 0 and (r < 0 or r > maxRetry) then maxRetry = r end
          end
        end

        local out = { now, denied, maxRetry }
        if commit and denied < 0 then
          for i = 1, n do
            local key = KEYS[i]
            local b = 4 + (i - 1) * 4
            local w, s, cost = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
            local st = states[key]
            if s == 0 then
              if st.current then
                redis.call('HINCRBY', key, 'c', fmt(cost))
              else
                redis.call('HSET', key, 'w', fmt(st.idx), 'c', fmt(cost))
                st.current = true
              end
              redis.call('PEXPIRE', key, fmt((st.idx + 1) * w - now + grace))
            else
              redis.call('HINCRBY', key, fmt(st.cur), fmt(cost))
              if #st.stale > 0 then
                redis.call('HDEL', key, unpack(st.stale))
                st.stale = {}
              end
              redis.call('PEXPIRE', key, fmt((st.cur + s + 1) * st.g - now + grace))
            end
            if wantEntries then
              local reset = (s == 0) and ((st.idx + 1) * w) or ((st.cur + s + 1) * st.g)
              out[#out + 1] = 1
              out[#out + 1] = before[i] + cost
              out[#out + 1] = 0
              out[#out + 1] = reset
            end
          end
        elseif wantEntries then
          for i = 1, n do
            local b = 4 + (i - 1) * 4
            local w, s = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
            out[#out + 1] = fits[i]
            out[#out + 1] = before[i]
            out[#out + 1] = retry[i]
            out[#out + 1] = resetAt(states[KEYS[i]], w, s)
          end
        end
        return out
        """;

    /// <summary>
    /// Gives permits back to the window or segment that held them at acquire time, if it is still there; never below
    /// zero, and never creates a key (a counter without a TTL must not exist).
    /// </summary>
    /// <remarks>ARGV: acquired-at Unix ms, then per request: window ms, segments (0 for a fixed window), cost.</remarks>
    internal const string RefundScriptText = """
        local at = tonumber(ARGV[1])
        local floor = math.floor
        local function fmt(x) return string.format('%d', x) end
        for i = 1, #KEYS do
          local key = KEYS[i]
          local b = 1 + (i - 1) * 3
          local w, s, cost = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
          if s == 0 then
            local v = redis.call('HMGET', key, 'w', 'c')
            if v[1] and tonumber(v[1]) == floor(at / w) then
              local left = (tonumber(v[2]) or 0) - cost
              if left < 0 then left = 0 end
              redis.call('HSET', key, 'c', fmt(left))
            end
          else
            local field = fmt(floor(at / (w / s)))
            local c = tonumber(redis.call('HGET', key, field))
            if c then
              local left = c - cost
              if left > 0 then
                redis.call('HSET', key, field, fmt(left))
              else
                redis.call('HDEL', key, field)
              end
            end
          end
        end
        return 0
        """;

    private static readonly RedisScript s_acquireScript = new("acquire", AcquireScriptText);
    private static readonly RedisScript s_refundScript = new("refund", RefundScriptText);
}
