using System.Globalization;
using System.Numerics;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Writes the store scripts' arguments and reads their replies; the layouts are documented beside each script in
/// <c>RedisRateLimitStore.Scripts.*.cs</c>.
/// </summary>
internal static class RedisScriptCodec
{
    public static readonly RedisValue One = 1;
    public static readonly RedisValue Zero = 0;

    /// <summary>The "now" argument that tells a script to read the server's <c>TIME</c>.</summary>
    public static readonly RedisValue ServerTime = -1;

    /// <summary>Arguments of the multi-key acquire script for the requests of <paramref name="group"/> (all when null).</summary>
    /// <remarks>A reservation (<paramref name="reserveMaxWaitMs"/> at least 0) commits, in the script's reserve mode <c>r&lt;max wait ms&gt;</c>.</remarks>
    public static RedisValue[] AcquireArguments(
        ReadOnlySpan<RateLimitRequest> requests, int[]? group, bool commit, RedisValue now, bool wantEntries, bool useServerTime, long reserveMaxWaitMs = -1)
    {
        int n = group?.Length ?? requests.Length;
        RedisValue[] arguments = new RedisValue[5 + (4 * n)];
        arguments[0] = reserveMaxWaitMs >= 0 ? string.Create(CultureInfo.InvariantCulture, $"r{reserveMaxWaitMs}") : commit ? One : Zero;
        arguments[1] = now;
        arguments[2] = wantEntries ? One : Zero;
        arguments[3] = RedisRateLimitStore.ExpiryGraceMilliseconds;
        arguments[4] = useServerTime ? One : Zero;
        for (int k = 0; k < n; k++)
        {
            ref readonly RateLimitRequest request = ref requests[group is null ? k : group[k]];
            RateLimitRule rule = request.Rule;
            int at = 5 + (4 * k);
            arguments[at] = rule.Limit;
            arguments[at + 1] = rule.Algorithm == RateLimitAlgorithm.TokenBucket ? rule.EmissionIntervalMicroseconds : rule.WindowMilliseconds;
            arguments[at + 2] = SegmentsArgument(rule);
            arguments[at + 3] = request.Cost;
        }

        return arguments;
    }

    /// <summary>Arguments of the refund script for the requests of <paramref name="group"/> (all when null).</summary>
    /// <remarks>
    /// Buckets give back at <paramref name="acquiredAtMs"/> (a reservation's reserved time), windows at
    /// <paramref name="decidedAtMs"/>, the time they counted at.
    /// </remarks>
    public static RedisValue[] RefundArguments(
        ReadOnlySpan<RateLimitRequest> requests, int[]? group, long acquiredAtMs, long decidedAtMs, long markerTtlMs, RedisValue now, bool useServerTime)
    {
        int n = group?.Length ?? requests.Length;
        RedisValue[] arguments = new RedisValue[5 + (5 * n)];
        arguments[0] = acquiredAtMs;
        arguments[1] = useServerTime ? One : Zero;
        arguments[2] = markerTtlMs;
        arguments[3] = now;
        arguments[4] = decidedAtMs;
        for (int k = 0; k < n; k++)
        {
            ref readonly RateLimitRequest request = ref requests[group is null ? k : group[k]];
            RateLimitRule rule = request.Rule;
            bool bucket = rule.Algorithm == RateLimitAlgorithm.TokenBucket;
            int at = 5 + (5 * k);
            arguments[at] = bucket ? rule.EmissionIntervalMicroseconds : rule.WindowMilliseconds;
            arguments[at + 1] = SegmentsArgument(rule);

            // A bucket gives back at most a burst: keeps the script's arithmetic exact whatever cost a caller passes.
            arguments[at + 2] = bucket ? Math.Min(request.Cost, rule.Limit) : request.Cost;
            arguments[at + 3] = bucket ? ((rule.Limit * rule.EmissionIntervalMicroseconds) + 999) / 1000 : rule.WindowMilliseconds;
            arguments[at + 4] = rule.Limit;
        }

        return arguments;
    }

    /// <summary>
    /// The scripts' "segments" argument: 0 for a fixed window; for a token bucket (whose window argument is its emission
    /// interval in µs), minus its <see cref="RateLimitRule.BucketIntervalMicroseconds"/>, the interval its TAT is kept in.
    /// </summary>
    private static long SegmentsArgument(RateLimitRule rule) => rule.Algorithm switch
    {
        RateLimitAlgorithm.FixedWindow => 0,
        RateLimitAlgorithm.TokenBucket => -rule.BucketIntervalMicroseconds,
        _ => rule.Segments,
    };

    /// <summary>Reads the acquire script's reply, writing entries (when wanted) at the requests' own indexes.</summary>
    public static RedisScriptOutcome ReadOutcome(RedisResult raw, ReadOnlySpan<RateLimitRequest> requests, int[]? group, Span<RateLimitEntry> results)
    {
        RedisResult[] reply = (RedisResult[])raw!;
        long now = (long)reply[0];
        int denied = (int)reply[1];
        long retry = (long)reply[2];
        if (denied >= 0 && group is not null)
        {
            denied = group[denied];
        }

        if (!results.IsEmpty && denied < 0)
        {
            // Nothing denied: every request fits with no wait, and the reply holds only counts and reset times.
            int n = group?.Length ?? requests.Length;
            for (int k = 0; k < n; k++)
            {
                int i = group is null ? k : group[k];
                int at = 3 + (2 * k);
                results[i] = new RateLimitEntry(
                    true, (long)reply[at], requests[i].Rule.Limit, TimeSpan.Zero, DateTimeOffset.FromUnixTimeMilliseconds((long)reply[at + 1]));
            }
        }
        else if (!results.IsEmpty)
        {
            int n = group?.Length ?? requests.Length;
            for (int k = 0; k < n; k++)
            {
                int i = group is null ? k : group[k];
                int at = 3 + (4 * k);
                long entryRetry = (long)reply[at + 2];
                results[i] = new RateLimitEntry(
                    (long)reply[at] == 1,
                    (long)reply[at + 1],
                    requests[i].Rule.Limit,
                    entryRetry < 0 ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(entryRetry),
                    DateTimeOffset.FromUnixTimeMilliseconds((long)reply[at + 3]));
            }
        }

        return new RedisScriptOutcome(now, denied, retry);
    }

    /// <summary>
    /// The reply of the multi-key acquire script admitted everything: the time it admitted for (a reservation's reserved
    /// time) and the time it decided at, where window rules counted; else null.
    /// </summary>
    public static (long At, long DecidedAt)? AdmittedAtOfAcquire(RedisResult raw)
    {
        RedisResult[] reply = (RedisResult[])raw!;
        return (int)reply[1] < 0 ? ((long)reply[0], (long)reply[0] - (long)reply[2]) : null;
    }

    /// <summary>The bits the server's packed replies leave to the milliseconds: a power of two above any time left in the window.</summary>
    public static int PackingShift(long windowMs) => 64 - BitOperations.LeadingZeroCount((ulong)windowMs);

    /// <summary>Reads a single-key server-time reply: a count and the ms left, packed in one integer or as a pair.</summary>
    public static (long Count, long LeftMs) Unpack(RedisResult raw, int shift)
    {
        if (raw.Resp2Type == ResultType.Integer)
        {
            long packed = (long)raw;
            return (packed >> shift, packed & ((1L << shift) - 1));
        }

        RedisResult[] pair = (RedisResult[])raw!;
        return ((long)pair[0], (long)pair[1]);
    }
}
