using System.Globalization;
using System.Text.RegularExpressions;
using StackExchange.Redis;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// The TTL invariant of the Redis store: every key it writes has a TTL, no longer than its window plus one segment
/// plus the expiry grace. The rule shape is read back from the key itself (<c>…}:f60000:…</c>, <c>…}:s60000x10:…</c> or
/// <c>…}:tw1000:…</c>).
/// </summary>
public static partial class RedisKeyTtlAssertions
{
    /// <summary>
    /// Scans every key under <paramref name="prefix"/> on every primary and returns one message per violation
    /// (empty when all is well).
    /// </summary>
    /// <param name="multiplexer">An admin connection.</param>
    /// <param name="prefix">The key prefix the test used.</param>
    /// <param name="graceMilliseconds">The store's expiry grace.</param>
    /// <param name="maxBucketBurst">The largest burst of a token bucket the test used: bounds the TTL of bucket keys, whose names carry only the window (a bucket refills at least one permit per window).</param>
    /// <returns>The violations, and how many keys were checked.</returns>
    public static async Task<(IReadOnlyList<string> Violations, int Checked)> FindViolationsAsync(
        IConnectionMultiplexer multiplexer, string prefix, long graceMilliseconds, long maxBucketBurst = 1_000)
    {
        List<string> violations = [];
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(multiplexer, prefix).ConfigureAwait(false);
        foreach ((RedisKey key, TimeSpan? ttl) in keys)
        {
            string name = key.ToString();
            Match shape = RuleShape().Match(name);
            if (!shape.Success)
            {
                violations.Add($"{name}: not a counter key");
                continue;
            }

            // A token bucket's name carries its window, whatever its rate; it lives until it is full again, a burst of
            // intervals at most (an interval is at most the window), plus the grace.
            long window = shape.Groups["t"].Success
                ? maxBucketBurst * long.Parse(shape.Groups["t"].Value, CultureInfo.InvariantCulture)
                : long.Parse(shape.Groups["w"].Value, CultureInfo.InvariantCulture);
            long segment = shape.Groups["s"].Success ? window / long.Parse(shape.Groups["s"].Value, CultureInfo.InvariantCulture) : 0;
            TimeSpan max = TimeSpan.FromMilliseconds(window + segment + graceMilliseconds);
            if (ttl is null || ttl < TimeSpan.Zero)
            {
                // PTTL says "no TTL" for a key that has just expired too (a window of a few ms ends between SCAN and
                // PTTL); only a key that still exists without a TTL is a violation. A TTL of 0 is a key in its last ms.
                if (await multiplexer.GetDatabase().KeyExistsAsync(key).ConfigureAwait(false)
                    && await multiplexer.GetDatabase().KeyTimeToLiveAsync(key).ConfigureAwait(false) is null)
                {
                    violations.Add($"{name}: no TTL");
                }
            }
            else if (ttl > max)
            {
                violations.Add($"{name}: TTL {ttl} exceeds {max}");
            }
        }

        return (violations, keys.Count);
    }

    // A counter, or a reset tombstone or refund marker, which name the rule shape whose window bounds their TTL.
    [GeneratedRegex(@"^[^{}]*\{[0-9a-f]{16}\}:(?:!reset:|!refund:-?\d+:)?(?:f(?<w>\d+)(?:#-?\d+)?|s(?<w>\d+)x(?<s>\d+)|tw(?<t>\d+)):", RegexOptions.CultureInvariant)]
    private static partial Regex RuleShape();
}
