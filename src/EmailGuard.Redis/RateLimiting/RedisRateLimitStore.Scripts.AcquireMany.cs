namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
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
}
