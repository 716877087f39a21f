// Over 300 lines on purpose: every Lua script of the store, side by side, so that their shared layouts (the
// server-time counter expiry, the argument and reply formats in RedisScriptCodec) are read and changed together.

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

    /// <summary>
    /// Decides a whole acquire or peek in one atomic step: reads every counter, checks every request (costs of
    /// earlier requests on the same counter count as pending), then takes all or nothing. The arithmetic mirrors
    /// <c>InMemoryCounter</c> line by line; the differential test holds the two to identical answers.
    /// </summary>
    /// <remarks>
    /// <para>KEYS: one counter per request (repeats allowed). A fixed-window counter is a plain integer that lives
    /// only during its window: in the client-clock layout its name carries the window index; in the server-time
    /// layout it expires at the window's end (a key still alive whose expiry names another window is recognized by
    /// PEXPIRETIME, see <see cref="ServerCounterLua"/>). A sliding-window counter is a hash with one
    /// field per segment index. A token bucket is a plain integer, its theoretical arrival time (TAT) in Unix µs of the
    /// clock that decides (the server's or the client's), with a TTL that ends a grace after the bucket is full again: an
    /// absent key and an expired TAT mean the same, a full bucket, so its expiry needs no window bookkeeping.</para>
    /// <para>ARGV: mode (0: peek, 1: commit, <c>r&lt;ms&gt;</c>: reserve within that many ms, see
    /// <c>IRateLimitStore.ReserveAsync</c>: when only buckets are short, decide again at the latest of their earliest
    /// times if no window rule that can deny changes window or segment by then (a counter, limit 2^40, cannot deny and
    /// takes part wherever the time lies), and reply with that time as now; window rules count at the time of the
    /// decision, buckets at the reserved time), now in Unix ms
    /// (negative: the server's TIME), entries wanted (0/1), expiry grace ms,
    /// server-time layout (0/1), then per request: limit, window ms, segments (0 for a fixed window), cost. A token
    /// bucket passes its burst, its emission interval in µs and -1 segments; its arithmetic mirrors
    /// <c>TokenBucketMath</c>, with every number an exact integer below 2^53.</para>
    /// <para>Returns: now, the 0-based index of the first denied request or -1, the decision's retry-after ms (-1:
    /// never; when admitted, how far ahead of the decision now lies, 0 but for a reservation), then, when entries are wanted, per request: fits (0/1), count, retry-after ms (-1: never), reset-at ms; when nothing was denied (every request fits, with no wait), per request only count and reset-at ms: a guard check's reply is then 15 numbers instead of 27, each of which Redis and the client convert.</para>
    /// <para>Numbers are formatted with <c>fmt</c> before they reach Redis: Lua would print a large one as a float.
    /// Every write sets or keeps a TTL in the same script, so a counter never exists without one. Every key is read,
    /// and so type-checked, before the first write, and a fixed-window key, or a sliding window's current segment, that
    /// holds something other than an integer (a fraction such as <c>0.5</c> too) fails the script before it writes: a
    /// script that fails has written nothing.</para>
    /// </remarks>
    internal const string AcquireScriptText = ServerCounterLua + AcquireFunctionLua + """
        return acquire(KEYS, ARGV, nil, 0, 0, #KEYS)
        """;

    /// <summary>
    /// The body of <see cref="AcquireScriptText"/> as a Lua function of its keys and arguments, so that the batch
    /// script (<see cref="AcquireManyScriptText"/>) decides each member with the very same code.
    /// </summary>
    /// <remarks>
    /// <c>acquire(KEYS, ARGV, shared, ko, ao, n)</c> reads its n keys at <c>KEYS[ko + 1]</c> onwards and its arguments
    /// at <c>ARGV[ao + 1]</c> onwards, so that a batch member is decided in place, without copying its keys and
    /// arguments into tables of its own; <c>shared</c> is the batch's shared state, nil for a script alone. Its
    /// helpers (<c>load</c>, <c>check</c>, <c>resetAt</c>) are defined once per script and take what they need as
    /// arguments, and the requests' numbers are read once per call (once per batch for members that repeat them):
    /// a batch calls <c>acquire</c> for every member, and closures, tables and <c>tonumber</c> calls built per member
    /// cost Redis more than the counters' own commands.
    /// </remarks>
    private const string AcquireFunctionLua = """
        -- Writes what later members of a batch took from a fixed-window counter an earlier member of it wrote (see
        -- acquire), before the counter is read from Redis again and at the batch's end: as the members' own INCRBYs
        -- would have, in one command. The counter exists (the first member's write made it), so INCRBY is that write.
        local function flush_fixed(shared, key)
          local known = shared.fixed[key]
          if not known or not known.dirty then return end
          redis.call('INCRBY', key, string.format('%d', known.delta))
          known.dirty, known.delta = false, 0
        end
        -- Defined once per script, not once per call: a batch calls acquire for every member.
        local floor = math.floor
        local function fmt(x) return string.format('%d', x) end
        -- Ceiling of a / b for integers a >= 0, b > 0, exact although Lua divides in floating point.
        local function ceildiv(a, b)
          local q = floor(a / b)
          if q * b < a then q = q + 1 elseif q > 0 and (q - 1) * b >= a then q = q - 1 end
          return q
        end
        -- Whether a count INCRBY and HINCRBY would take (Redis's string2ll): Lua's tonumber also reads '0x1', '1e1',
        -- ' 5' and '05', which they refuse half-way through the writes.
        local function incrementable(c) return c == '0' or string.find(c, '^%-?[1-9]%d*$') ~= nil end
        -- Reads one counter for a decision: a table of its state (a bucket's TAT, a fixed window's count and end, a
        -- sliding window's segments), with p, what earlier requests of the same decision take from it, at 0, and
        -- foreign set when it holds something other than an integer. In a batch, a fixed-window counter's state is
        -- the batch's own record of it (shared.fixed), kept up to date with what its members took.
        local function load(shared, key, w, s, wnow, nowUs, serverLayout)
          local known = shared and shared.fixed[key]
          if known and not (s == 0 and known.w == w) then flush_fixed(shared, key) end
          if s < 0 then
            local c = redis.call('GET', key)
            local tat = tonumber(c)
            local foreign = c and not tat
            if not tat or tat < nowUs then tat = nowUs end
            -- Counted per request, by its own interval: a reduced rule reads the same TAT with a longer one.
            return { base = tat, total = 0, addUs = 0, p = 0, foreign = foreign }
          elseif s == 0 then
            if known and known.w == w then
              -- Read by an earlier member of this batch, and kept up to date with what members took since.
              known.p = 0
              return known
            end
            local reset = (floor(wnow / w) + 1) * w
            local c = redis.call('GET', key)
            local number = tonumber(c)
            local total = number or 0
            local fresh = not c
            if c and serverLayout then
              local e = counter_end(key, w)
              if e and e > reset then
                -- A later window's counter (this call's time came from an earlier script): count against it.
                reset = e
              elseif e ~= reset then
                -- An earlier window's counter, alive only because the script started before it expired, or one
                -- this store did not write.
                total = 0
                fresh = true
              end
            end
            -- wrote: a member of the batch has written it; what later members take waits in dirty and delta, set
            -- when a second member takes from it. foreign: not an integer, which INCRBY would refuse half-way through
            -- the writes; a number with a fraction ('0.5', written by someone else) is foreign too.
            local st = { w = w, reset = reset, total = total, fresh = fresh, foreign = c and (not number or number % 1 ~= 0 or not incrementable(c)), p = 0, wrote = false }
            if shared then shared.fixed[key] = st end
            return st
          else
            local g = w / s
            local cur = floor(wnow / g)
            local oldest = cur - s
            local segs, stale, total, foreign = {}, {}, 0, false
            local flat = redis.call('HGETALL', key)
            for k = 1, #flat, 2 do
              local j = tonumber(flat[k])
              if j and j >= oldest and j <= cur then
                local c = tonumber(flat[k + 1])
                -- The current segment is the one HINCRBY writes: one that is no integer would fail it half-way
                -- through the writes, so the acquire fails before them. An older one only counts (as 0 if no number).
                if j == cur and (not c or c % 1 ~= 0 or not incrementable(flat[k + 1])) then foreign = true end
                c = c or 0
                segs[j] = c
                total = total + c
              elseif j and j < oldest then
                stale[#stale + 1] = flat[k]
              end
            end
            return { g = g, cur = cur, segs = segs, stale = stale, total = total, p = 0, foreign = foreign }
          end
        end

        local function resetAt(st, s, now, wnow, nowUs)
          if s < 0 then
            if st.base > nowUs then return ceildiv(st.base, 1000) end
            return now
          end
          if s == 0 then return st.reset end
          for j = st.cur, st.cur - s, -1 do
            if (st.segs[j] or 0) > 0 then return (j + s + 1) * st.g end
          end
          return wnow
        end

        -- check's tables, made once per script: a batch calls check for every member, and a table made and grown per
        -- call costs more than the call's arithmetic. dec is overwritten entry by entry; states is first emptied of
        -- the last call's keys (also after a call that failed half-way).
        local scratchStates, scratchDec, lastKo, lastN = {}, {}, 0, 0

        -- Checks every request against its counter (rules: limit, window, segments, cost per request). Returns the
        -- counters' states by key, per request (fits, count before, retry-after) in dec at 3i-2 .. 3i, the index of
        -- the first denied request or -1, the decision's retry-after, whether the denial cannot wait, and the first
        -- counter found holding something other than an integer.
        local function check(KEYS, shared, ko, n, rules, now, wnow, nowUs, serverLayout)
          local states, dec = scratchStates, scratchDec
          for i = 1, lastN do states[KEYS[lastKo + i]] = nil end
          lastKo, lastN = ko, n
          local denied, maxRetry, blocked, foreign = -1, 0, false, nil
          local fixed = shared and shared.fixed
          for i = 1, n do
            local key = KEYS[ko + i]
            local b = 4 * i - 4
            local limit, w, s, cost = rules[b + 1], rules[b + 2], rules[b + 3], rules[b + 4]
            local st = states[key]
            if not st then
              -- A fixed-window counter an earlier member of the batch read: its record, without a call to load.
              st = fixed and s == 0 and fixed[key]
              if st and st.w == w then
                st.p = 0
              else
                st = load(shared, key, w, s, wnow, nowUs, serverLayout)
              end
              states[key] = st
              if st.foreign then foreign = foreign or key end
            end
            local p = st.p
            local count = st.total + p
            if s < 0 then
              count = ceildiv(st.base - nowUs, w) + p
              st.addUs = st.addUs + cost * w
            end
            dec[3 * i - 1] = count
            st.p = p + cost
            if count + cost <= limit then
              dec[3 * i - 2], dec[3 * i] = 1, 0
            else
              dec[3 * i - 2] = 0
              if denied < 0 then denied = i - 1 end
              local r = -1
              if p + cost <= limit then
                if s < 0 then
                  r = ceildiv(st.base - (limit - p - cost) * w - nowUs, 1000)
                elseif s == 0 then
                  r = st.reset - wnow
                else
                  local need, freed = count + cost - limit, 0
                  for j = st.cur - s, st.cur do
                    freed = freed + (st.segs[j] or 0)
                    if freed >= need then
                      r = (j + s + 1) * st.g - wnow
                      break
                    end
                  end
                end
              end
              dec[3 * i] = r
              if maxRetry >= 0 and (r < 0 or r > maxRetry) then maxRetry = r end
              -- Only a bucket can promise a later time; a full window, or a cost that never fits, cannot wait.
              if s >= 0 or r < 0 then blocked = true end
            end
          end
          return states, dec, denied, maxRetry, blocked, foreign
        end

        local function acquire(KEYS, ARGV, shared, ko, ao, n)
        local mode = ARGV[ao + 1]
        local commit, reserve, maxWait = mode == '1', false, 0
        if not commit and string.sub(mode, 1, 1) == 'r' then
          commit, reserve, maxWait = true, true, tonumber(string.sub(mode, 2)) or 0
        end
        local now = tonumber(ARGV[ao + 2])
        if now < 0 then
          if shared then
            shared.now = shared.now or server_now()
            now = shared.now
          else
            now = server_now()
          end
        end
        -- Windows count at the time of the decision, even when a reservation moves now (for its buckets) ahead.
        local wnow = now
        local wantEntries = ARGV[ao + 3] == '1'
        local grace = tonumber(ARGV[ao + 4])
        local serverLayout = ARGV[ao + 5] == '1'
        local nowUs = now * 1000
        -- The requests' numbers (limit, window, segments, cost each), read once: in a batch, once for every member
        -- that repeats the same arguments.
        local rules = shared and shared.rulesAt == ao and shared.rules
        if not rules then
          rules = {}
          for j = 1, 4 * n do rules[j] = tonumber(ARGV[ao + 5 + j]) end
          if shared then shared.rulesAt, shared.rules = ao, rules end
        end

        local states, dec, denied, maxRetry, blocked, foreign = check(KEYS, shared, ko, n, rules, now, wnow, nowUs, serverLayout)
        if reserve and denied >= 0 and not blocked and maxRetry <= maxWait then
          -- A reservation: decide again at the earliest time every bucket has room, if every window rule that can
          -- deny still counts in the same window (fixed) or segment (sliding) then, so its permits count when they
          -- are used. A counter (limit 2^40, which nothing reaches) cannot deny: it takes part wherever the time lies.
          -- Windows are decided again at the time of the decision (wnow), buckets at the reserved time.
          local at = now + maxRetry
          local moves = false
          for i = 1, n do
            local b = 4 * i - 4
            local limit, w, s = rules[b + 1], rules[b + 2], rules[b + 3]
            if limit ~= 1099511627776 then
              if s == 0 and floor(at / w) ~= floor(now / w) then moves = true end
              if s > 0 and floor(at * s / w) ~= floor(now * s / w) then moves = true end
            end
          end
          if not moves then
            now = at
            nowUs = now * 1000
            states, dec, denied, maxRetry, blocked, foreign = check(KEYS, shared, ko, n, rules, now, wnow, nowUs, serverLayout)
          end
        end

        if foreign and commit and denied < 0 then
          -- INCRBY would fail on it half-way through the writes below: fail before the first one instead.
          return redis.error_reply('ERR EmailGuard counter ' .. foreign .. ' does not hold an integer')
        end
        -- Admitted, the third number is how far ahead of the decision the reserved time lies (0 but for a reservation).
        -- Made with room for a guard check's six entries: a table grown slot by slot is reallocated each time its
        -- array fills. Redis reads a reply up to its first nil, so the slots left empty are not sent.
        local out = { now, denied, maxRetry, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil }
        if denied < 0 then out[3] = now - wnow end
        local o = 3
        if commit and denied < 0 then
          for i = 1, n do
            local key = KEYS[ko + i]
            local b = 4 * i - 4
            local w, s, cost = rules[b + 2], rules[b + 3], rules[b + 4]
            local st = states[key]
            local reset
            if s < 0 then
              -- Every request on the bucket has added its cost by now: write the final TAT once.
              local tat = st.base + st.addUs
              reset = ceildiv(tat, 1000)
              if not st.written then
                redis.call('SET', key, fmt(tat), 'PX', fmt(ceildiv(tat - nowUs, 1000) + grace))
                st.written = true
              end
            elseif s == 0 then
              reset = st.reset
              -- In a batch, st is the batch's record of the counter (see load). The first member to take from it
              -- writes at once, as alone, with its cost's own argument string (no number formatted); what later
              -- members take waits in memory for the batch's end (or the key's next read from Redis), so that a
              -- counter many members take from (a guard's global one) is written twice per batch, and one that a
              -- single member takes from (a recipient's) costs no bookkeeping and no formatting.
              if shared and st.wrote then
                if not st.dirty then
                  st.dirty, st.delta = true, 0
                  shared.ndirty = shared.ndirty + 1
                  shared.dirty[shared.ndirty] = key
                end
                st.delta = st.delta + cost
              else
                local c = ARGV[ao + 5 + 4 * i]
                if not st.fresh then
                  redis.call('INCRBY', key, c)
                elseif serverLayout then
                  set_counter(key, c, reset)
                else
                  redis.call('SET', key, c, 'PX', fmt(reset - wnow + grace))
                end
                st.fresh = false
                if shared then st.wrote = true end
              end
              if shared then st.total = st.total + cost end
            else
              reset = (st.cur + s + 1) * st.g
              redis.call('HINCRBY', key, fmt(st.cur), fmt(cost))
              if #st.stale > 0 then
                redis.call('HDEL', key, unpack(st.stale))
                st.stale = {}
              end
              redis.call('PEXPIRE', key, fmt(reset - wnow + grace))
            end
            if wantEntries then
              -- Admitted: every request fits with no wait, so only its count and reset time are sent.
              out[o + 1], out[o + 2] = dec[3 * i - 1] + cost, reset
              o = o + 2
            end
          end
        elseif wantEntries and denied < 0 then
          for i = 1, n do
            out[o + 1], out[o + 2] = dec[3 * i - 1], resetAt(states[KEYS[ko + i]], rules[4 * i - 1], now, wnow, nowUs)
            o = o + 2
          end
        elseif wantEntries then
          for i = 1, n do
            local s = rules[4 * i - 1]
            out[o + 1], out[o + 2], out[o + 3], out[o + 4] = dec[3 * i - 2], dec[3 * i - 1], dec[3 * i], resetAt(states[KEYS[ko + i]], s, now, wnow, nowUs)
            o = o + 4
          end
        end
        return out
        end

        """;

    /// <summary>
    /// Runs the acquires of several callers, each of its own kind, keys and arguments, in one script call: in order,
    /// each with the very function its own script runs, so each is decided exactly as if it had been sent alone (see
    /// <see cref="RedisScriptBatcher"/>).
    /// </summary>
    /// <remarks>
    /// <para>ARGV: the member count m, then per member its kind, which also says how many keys and arguments it has
    /// (<c>c</c>: <see cref="AcquireOneClientScriptText"/>, one key and 3 arguments; <c>s</c>:
    /// <see cref="AcquireOneServerScriptText"/>, one key and 4 arguments; <c>C</c> and <c>S</c>: the same with no
    /// arguments, repeating those of the member just before, of the same kind; a number n: <see cref="AcquireScriptText"/>
    /// of n keys and 5 + 4n arguments; -n: the same with no arguments, repeating those of the last member of kind n,
    /// whatever single-key members came between), then every member's arguments in order. KEYS: every member's keys
    /// in order. One value per member instead of three, and none for the arguments of a rule repeated from one member
    /// to the next (acquires of one rule over many keys, guard checks of one rule set): each value costs the client and
    /// the server to write, read and turn into a Lua string, and a repeated member's numbers are read once (see
    /// <c>acquire</c>).</para>
    /// <para>The members (multi-key and single-key server-time ones alike) share the server's <c>TIME</c>, read once
    /// per batch, and every fixed-window counter a
    /// multi-key member has read: a later member reads it from memory, kept up to date with what the members between
    /// took (a single-key member's counter is read again), instead of asking Redis again. A guard check's global,
    /// tenant and sender counters are then read once per batch, and written twice: the first member to take from a
    /// counter writes it at once, as alone, and what later members take from it is written in one INCRBY when the batch
    /// ends, or before the counter is next read from Redis. A counter only one member takes from (a recipient's) is
    /// written by that member, with no record of what waits and no number formatted.</para>
    /// <para>Returns one reply per member: what its own script would have returned, or, when its script would have
    /// failed, that error's message as a string (no member's own reply is a string). A member's script fails before its
    /// first write (each is written so), so catching the error leaves nothing half-done, and the members after it run
    /// as they would have.</para>
    /// </remarks>
    internal const string AcquireManyScriptText = AcquireManyFunctionsLua + AcquireManyBodyLua;

    /// <summary>The functions <see cref="AcquireManyScriptText"/> decides its members with.</summary>
    private const string AcquireManyFunctionsLua = ServerCounterLua + AcquireFunctionLua + AcquireOneClientFunctionLua + AcquireOneServerFunctionLua;

    /// <summary>
    /// The body of <see cref="AcquireManyScriptText"/>, which reads its members' keys from <c>KEYS</c> and the rest from
    /// <c>ARGV</c>; the node script (<see cref="AcquireManyAcrossSlotsScriptText"/>) runs the same body.
    /// </summary>
    private const string AcquireManyBodyLua = """
        local m = tonumber(ARGV[1])
        local out = {}
        -- What the members share: the server's TIME, read once per batch, and the fixed-window counters read so far.
        local shared = { fixed = {}, dirty = {}, ndirty = 0 }
        local fixed = shared.fixed
        local k, a = 0, 1 + m
        -- The arguments of the last single-key member, which an upper-case kind repeats. The numbers only compared or
        -- computed with (limit; window and packing factor) are read once here, not coerced from strings by every member
        -- that repeats them; the cost and a client-clock TTL stay strings, since they go to redis.call as they came.
        local p1, p2, p3, p4
        -- Where the arguments of the last multi-key member start, which a negative kind repeats.
        local pa
        for i = 1, m do
          local kind = ARGV[1 + i]
          local ok, r
          if kind == 's' or kind == 'S' or kind == 'c' or kind == 'C' then
            -- A single-key member reads its counter itself: what earlier members took from it is written first.
            local key = KEYS[k + 1]
            if fixed[key] then
              flush_fixed(shared, key)
              fixed[key] = nil
            end
            if kind == 's' then
              p1, p2, p3, p4 = tonumber(ARGV[a + 1]), ARGV[a + 2], tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
              a = a + 4
            elseif kind == 'c' then
              p1, p2, p3 = tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3]
              a = a + 3
            end
            if kind == 's' or kind == 'S' then
              shared.now = shared.now or server_now()
              ok, r = pcall(acquire_one_server, key, p1, p2, p3, p4, shared.now)
            else
              ok, r = pcall(acquire_one_client, key, p1, p2, p3)
            end
            k = k + 1
          else
            local nk = tonumber(kind)
            if nk < 0 then
              -- The same arguments as the last multi-key member, of as many keys.
              nk = -nk
            else
              pa = a
              a = a + 5 + 4 * nk
            end
            ok, r = pcall(acquire, KEYS, ARGV, shared, k, pa, nk)
            k = k + nk
          end
          if not ok then
            if type(r) == 'table' then r = r.err end
            out[i] = tostring(r)
          elseif type(r) == 'table' and r.err then
            out[i] = tostring(r.err)
          else
            out[i] = r
          end
        end
        for _, key in ipairs(shared.dirty) do flush_fixed(shared, key) end
        return out
        """;

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
    /// interval in µs, -1 segments, a cost of at most its burst and its refill time as hold; its TAT moves back by cost
    /// intervals, never before now, and only while the permits can still be held (before acquired-at + hold ms), as <c>TokenBucketMath.Refunded</c>.</para>
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
        local m, slot, wkey, wfield, wnum = 0, {}, {}, {}, {}
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
            local tat = tonumber(c)
            if c and not tat then return refuse(key) end
            local nowUs = now * 1000
            local left = tat and tat - cost * w
            -- The store's own give-back (no marker) undoes the acquire it just made; a caller's refund leaves alone a
            -- TAT that later reservations were queued behind, as TokenBucketMath.Refunded does.
            if tat and tat > nowUs and now < at + hold and (not marked or left <= at * 1000 + (tonumber(ARGV[b + 5]) - cost) * w) then
              if left < nowUs then left = nowUs end
              decide(key, '', left)
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
            redis.call('SET', wkey[j], fmt(wnum[j]), 'KEEPTTL')
          elseif wnum[j] then
            redis.call('HSET', wkey[j], wfield[j], fmt(wnum[j]))
          else
            redis.call('HDEL', wkey[j], wfield[j])
          end
        end
        return 1
        """;

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
