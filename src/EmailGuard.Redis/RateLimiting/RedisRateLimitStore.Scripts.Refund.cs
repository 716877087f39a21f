namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Gives permits back to the window or segment that held them at acquire time, if it is still there; never below
    /// zero, and never creates a counter (a counter without a TTL must not exist). A refund of a caller's decision
    /// claims the acquisition's marker, so it is applied at most once; a counter that was reset after the acquire is
    /// left alone. Every counter is read and checked before the first write (the marker's included): one of another
    /// type, or holding anything but an integer, fails the script with nothing written.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: n counters, then their n reset tombstones (see <see cref="ResetScriptText"/>), then, for a
    /// caller's refund, the acquisition's marker. ARGV: acquired-at Unix ms (a bucket's time: for a reservation, the
    /// reserved time), server-time layout (0/1), the marker's TTL ms (0: no marker, the store giving back its own
    /// reservation), now in Unix ms (negative: the server's TIME), decided-at Unix ms (the time window rules counted
    /// at; the same as acquired-at but for a reservation admitted ahead), then per request: window ms, segments (0 for a fixed window), cost, hold ms, limit. A token bucket passes its emission
    /// interval in µs, minus its bucket interval µs as segments, a cost of at most its burst and its refill time as hold; its TAT moves back by cost
    /// intervals, never before now, and only while the permits can still be held (before acquired-at + hold ms), as <c>TokenBucketMath.Refunded</c>;
    /// a TAT written under another bucket interval (the bucket changed since the acquire) gets nothing back.</para>
    /// <para>A client-clock fixed-window key names its window; a server-time one is checked by its expiry. A tombstone
    /// holds the reset's time: on the client clock, which also dated the acquire, a counter reset at or after the
    /// acquire is skipped; on server time, whose acquires carry the app's clock, any tombstone skips the counter,
    /// since the two clocks cannot be compared to the millisecond.</para>
    /// <para>Returns 1 when the refund was applied, 0 when the marker was already claimed; an error
    /// (<c>does not hold an integer</c>, or the server's <c>WRONGTYPE</c>) before any write when a counter it would
    /// write is not one.</para>
    /// </remarks>
    internal const string RefundScriptText = ServerCounterLua + """
        local at = tonumber(ARGV[1])
        local serverLayout = ARGV[2] == '1'
        local marked = ARGV[3] ~= '0'
        local now = tonumber(ARGV[4])
        local wat = tonumber(ARGV[5])
        local n = #KEYS
        if marked then n = n - 1 end
        n = n / 2
        if marked and redis.call('EXISTS', KEYS[#KEYS]) == 1 then return 0 end
        local floor = math.floor
        local function fmt(x) return string.format('%d', x) end
        -- Reads every counter, and so type-checks it, and decides each write before the first one: a counter of
        -- another type, or one holding anything but an integer (written by someone else: 'abc', '0.5'), refuses the
        -- whole refund before the marker is claimed, so nothing is half given back and a repeat can still count.
        -- The writes decided, one per counter (field '') or segment: its new value, or false to drop a segment. A
        -- counter that several requests name is read once and then taken from what the earlier ones decided.
        local m, slot, wkey, wfield, wnum, wbucket = 0, {}, {}, {}, {}, {}
        local function decided(key, field)
          local fields = slot[key]
          return fields and fields[field]
        end
        local function decide(key, field, value)
          local j = decided(key, field)
          if not j then
            m = m + 1
            j = m
            slot[key] = slot[key] or {}
            slot[key][field] = j
            wkey[j], wfield[j] = key, field
          end
          wnum[j] = value
        end
        local function read(key, field)
          local j = decided(key, field)
          if j then return wnum[j] or nil end
          if field == '' then return redis.call('GET', key) end
          return redis.call('HGET', key, field)
        end
        local function refuse(key)
          return redis.error_reply('ERR EmailGuard counter ' .. key .. ' does not hold an integer')
        end
        -- A count as INCRBY and HINCRBY read it, else nil: Lua's tonumber also reads '0x10', '1e1', ' 5' and '05',
        -- which those refuse, so a refund must not give back from them what no acquire could count.
        local function whole(c)
          if type(c) ~= 'string' then return c end
          if c == '0' or string.find(c, '^%-?[1-9]%d*$') then return tonumber(c) end
          return nil
        end
        for i = 1, n do
          local key = KEYS[i]
          local b = 5 + (i - 1) * 5
          local w, s, cost, hold = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
          local reset = tonumber(redis.call('GET', KEYS[n + i]))
          if reset and (serverLayout or reset >= wat) then
            -- Reset since the acquire: the counter now holds only later permits.
          elseif s < 0 then
            if now < 0 then now = server_now() end
            local c = read(key, '')
            local tat, from = c, -s
            if type(c) == 'string' then
              local t, iv = string.match(c, '^(%-?%d+):(%d+)$')
              if t then tat, from = tonumber(t), tonumber(iv) else tat = tonumber(c) end
            end
            if c and not tat then return refuse(key) end
            -- Converted since the acquire: the permits it would give back are not the ones the TAT now counts.
            if from ~= -s then tat = nil end
            local nowUs = now * 1000
            local left = tat and tat - cost * w
            -- The store's own give-back (no marker) undoes the acquire it just made; a caller's refund leaves alone a
            -- TAT that later reservations were queued behind, as TokenBucketMath.Refunded does.
            if tat and tat > nowUs and now < at + hold and (not marked or left <= at * 1000 + (tonumber(ARGV[b + 5]) - cost) * w) then
              if left < nowUs then left = nowUs end
              decide(key, '', left)
              wbucket[key] = fmt(-s)
            end
          elseif s == 0 then
            if not serverLayout or counter_end(key, w) == (floor(wat / w) + 1) * w then
              local c = read(key, '')
              local number = whole(c)
              if c and not number then return refuse(key) end
              if number then
                local left = number - cost
                if left < 0 then left = 0 end
                decide(key, '', left)
              end
            end
          else
            local field = fmt(floor(wat / (w / s)))
            local c = read(key, field)
            local number = whole(c)
            if c and not number then return refuse(key) end
            if number then
              local left = number - cost
              if left > 0 then decide(key, field, left) else decide(key, field, false) end
            end
          end
        end
        if marked then redis.call('SET', KEYS[#KEYS], '1', 'PX', ARGV[3]) end
        for j = 1, m do
          if wfield[j] == '' then
            -- Only a bucket's TAT is written whole here (a window's count too); a bucket keeps its interval.
            local v = fmt(wnum[j])
            if wbucket[wkey[j]] then v = v .. ':' .. wbucket[wkey[j]] end
            redis.call('SET', wkey[j], v, 'KEEPTTL')
          elseif wnum[j] then
            redis.call('HSET', wkey[j], wfield[j], fmt(wnum[j]))
          else
            redis.call('HDEL', wkey[j], wfield[j])
          end
        end
        return 1
        """;
}
