using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The arguments of the last multi-key acquire script built on the server's clock, handed to every later call that
/// asks for the same: a guard check sends one rule set from message to message, so its arguments (mode, the server
/// time code, the flags, then limit, window, segments and cost per request) are the same every time.
/// </summary>
/// <remarks>
/// Reusing them saves building and allocating a guard check's 29 values, and lets a batch see that a member repeats
/// the last multi-key member's arguments by reference, instead of comparing 29 values per member in the lane's loop
/// (see <see cref="RedisScriptCall.HasSameArguments"/>). The arrays are never written once built. On the client's
/// clock the arguments carry the time, so they are built per call as before.
/// </remarks>
internal sealed class RedisAcquireArgumentCache
{
    private Entry? _last;

    /// <summary>The arguments of the acquire script for <paramref name="requests"/>, on the server's clock.</summary>
    /// <param name="requests">The requests.</param>
    /// <param name="commit">Whether the call takes permits (an acquire) or only reads (a peek).</param>
    /// <param name="wantEntries">Whether the caller wants each request's entry.</param>
    /// <param name="reserveMaxWaitMs">For a reservation, how far ahead it may reserve; -1 otherwise.</param>
    /// <returns>The arguments; the same array for calls of the same rules, costs and mode.</returns>
    public RedisValue[] Get(ReadOnlySpan<RateLimitRequest> requests, bool commit, bool wantEntries, long reserveMaxWaitMs)
    {
        Entry? last = Volatile.Read(ref _last);
        if (last is not null && last.Matches(requests, commit, wantEntries, reserveMaxWaitMs))
        {
            return last.Arguments;
        }

        RedisValue[] arguments = RedisScriptCodec.AcquireArguments(
            requests, null, commit, RedisScriptCodec.ServerTime, wantEntries, useServerTime: true, reserveMaxWaitMs);
        Volatile.Write(ref _last, new Entry(requests, commit, wantEntries, reserveMaxWaitMs, arguments));
        return arguments;
    }

    /// <summary>One set of arguments and what they were built from.</summary>
    private sealed class Entry
    {
        private readonly RateLimitRule[] _rules;
        private readonly long[] _costs;
        private readonly bool _commit;
        private readonly bool _wantEntries;
        private readonly long _reserveMaxWaitMs;

        public Entry(ReadOnlySpan<RateLimitRequest> requests, bool commit, bool wantEntries, long reserveMaxWaitMs, RedisValue[] arguments)
        {
            _rules = new RateLimitRule[requests.Length];
            _costs = new long[requests.Length];
            for (int i = 0; i < requests.Length; i++)
            {
                _rules[i] = requests[i].Rule;
                _costs[i] = requests[i].Cost;
            }

            _commit = commit;
            _wantEntries = wantEntries;
            _reserveMaxWaitMs = reserveMaxWaitMs;
            Arguments = arguments;
        }

        public RedisValue[] Arguments { get; }

        public bool Matches(ReadOnlySpan<RateLimitRequest> requests, bool commit, bool wantEntries, long reserveMaxWaitMs)
        {
            if (requests.Length != _rules.Length || commit != _commit || wantEntries != _wantEntries || reserveMaxWaitMs != _reserveMaxWaitMs)
            {
                return false;
            }

            for (int i = 0; i < requests.Length; i++)
            {
                // Rules are immutable: the same rule has the same numbers. An equal rule that is another object only
                // misses, and the arguments are built again.
                if (!ReferenceEquals(requests[i].Rule, _rules[i]) || requests[i].Cost != _costs[i])
                {
                    return false;
                }
            }

            return true;
        }
    }
}
