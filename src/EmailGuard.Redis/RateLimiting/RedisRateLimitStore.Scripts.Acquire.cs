// Over 300 lines on purpose: one script, the general acquire, whose arithmetic mirrors InMemoryCounter line by line;
// the differential tests hold the two to identical answers.

namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
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
    /// field per segment index. A token bucket is a string <c>&lt;TAT&gt;:&lt;bucket interval&gt;</c>: its theoretical
    /// arrival time in Unix µs of the clock that decides (the server's or the client's) and the bucket interval µs it
    /// was written under (<c>RateLimitRule.BucketIntervalMicroseconds</c>), with a TTL that ends a grace after the bucket is
    /// full again: an absent key and an expired TAT mean the same, a full bucket, so its expiry needs no window
    /// bookkeeping. A bare integer is read as a TAT of the reader's own interval.</para>
    /// <para>ARGV: mode (0: peek, 1: commit, <c>r&lt;ms&gt;</c>: reserve within that many ms, see
    /// <c>IRateLimitStore.ReserveAsync</c>: when only buckets are short, decide again at the latest of their earliest
    /// times if no window rule that can deny changes window or segment by then (a counter, limit 2^40, cannot deny and
    /// takes part wherever the time lies), and reply with that time as now; window rules count at the time of the
    /// decision, buckets at the reserved time), now in Unix ms
    /// (negative: the server's TIME), entries wanted (0/1), expiry grace ms,
    /// server-time layout (0/1), then per request: limit, window ms, segments (0 for a fixed window), cost. A token
    /// bucket passes its burst, its emission interval in µs and minus its bucket interval µs as segments; a TAT written
    /// under another bucket interval is converted as <c>TokenBucketMath.Rebased</c> does. Its arithmetic mirrors
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
        -- A bucket's value: its TAT and the bucket interval it was written under ('<tat>:<interval>'); a bare number is
        -- a TAT of unknown interval (nil), read as a time.
        local function bucket(c)
          if not c then return nil, nil end
          local t, i = string.match(c, '^(%-?%d+):(%d+)$')
          if t then return tonumber(t), tonumber(i) end
          return tonumber(c), nil
        end
        -- TokenBucketMath.Rebased: a TAT written under the bucket interval from, read under the interval to by a rule
        -- whose full refill is refill µs: the permits it holds back stay held back, up to the longer of that refill
        -- and the time already owed. Every product stays below 2^53: spent is compared before it is multiplied.
        local function rebase(tat, from, to, refill, nowUs)
          if not from or from <= 0 or from == to or tat <= nowUs then return tat end
          local owed = tat - nowUs
          local spent = ceildiv(owed, from)
          local cap = owed
          if refill > cap then cap = refill end
          local most = floor(cap / to)
          if most * to > cap then most = most - 1 elseif (most + 1) * to <= cap then most = most + 1 end
          if spent > most then return nowUs + cap end
          return nowUs + spent * to
        end
        -- Reads one counter for a decision: a table of its state (a bucket's TAT, a fixed window's count and end, a
        -- sliding window's segments), with p, what earlier requests of the same decision take from it, at 0, and
        -- foreign set when it holds something other than an integer. In a batch, a fixed-window counter's state is
        -- the batch's own record of it (shared.fixed), kept up to date with what its members took.
        local function load(shared, key, limit, w, s, wnow, nowUs, serverLayout)
          local known = shared and shared.fixed[key]
          if known and not (s == 0 and known.w == w) then flush_fixed(shared, key) end
          if s < 0 then
            local c = redis.call('GET', key)
            local tat, from = bucket(c)
            local foreign = c and not tat
            if not tat or tat < nowUs then tat = nowUs end
            -- raw and from: the TAT as stored and the bucket interval it was written under, which each request converts
            -- to its own (see check); fin and finFrom: the TAT after the requests checked so far, as a commit writes it.
            return { raw = tat, from = from, fin = tat, finFrom = from, total = 0, p = 0, foreign = foreign }
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

        -- b: a bucket's TAT as its request read it (see check).
        local function resetAt(st, s, now, wnow, nowUs, b)
          if s < 0 then
            if b > nowUs then return ceildiv(b, 1000) end
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
        -- Per request, a bucket's TAT converted to the request's own bucket interval (rebase): what it counts and
        -- waits by, as InMemoryCounter reads it per rule.
        local scratchBases = {}

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
                st = load(shared, key, limit, w, s, wnow, nowUs, serverLayout)
              end
              states[key] = st
              if st.foreign then foreign = foreign or key end
            end
            local p = st.p
            local count = st.total + p
            if s < 0 then
              -- Counted per request, by its own interval (a reduced rule reads the same TAT with a longer one), from
              -- the stored TAT converted to its bucket interval when written under another (the bucket's limit, burst
              -- or rate changed). A commit takes the requests in order, each converting what the one before wrote,
              -- as InMemoryCounter's adds do.
              local b = rebase(st.raw, st.from, -s, limit * w, nowUs)
              scratchBases[i] = b
              count = ceildiv(b - nowUs, w) + p
              local f = rebase(st.fin, st.finFrom, -s, limit * w, nowUs)
              if f < nowUs then f = nowUs end
              st.fin, st.finFrom = f + cost * w, -s
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
                  r = ceildiv(scratchBases[i] - (limit - p - cost) * w - nowUs, 1000)
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
              -- Every request on the bucket has added its cost by now: write the final TAT once, with the bucket
              -- interval of the last request, which wrote it.
              local tat = st.fin
              reset = ceildiv(tat, 1000)
              if not st.written then
                redis.call('SET', key, fmt(tat) .. ':' .. fmt(st.finFrom), 'PX', fmt(ceildiv(tat - nowUs, 1000) + grace))
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
            out[o + 1], out[o + 2] = dec[3 * i - 1], resetAt(states[KEYS[ko + i]], rules[4 * i - 1], now, wnow, nowUs, scratchBases[i])
            o = o + 2
          end
        elseif wantEntries then
          for i = 1, n do
            local s = rules[4 * i - 1]
            out[o + 1], out[o + 2], out[o + 3], out[o + 4] = dec[3 * i - 2], dec[3 * i - 1], dec[3 * i], resetAt(states[KEYS[ko + i]], s, now, wnow, nowUs, scratchBases[i])
            o = o + 4
          end
        end
        return out
        end

        """;
}
