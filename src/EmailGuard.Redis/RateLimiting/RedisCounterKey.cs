using System.Globalization;

namespace EmailGuard.Redis;

/// <summary>
/// Names the Redis key of one counter: <c>&lt;prefix&gt;{&lt;hash&gt;}:&lt;rule id&gt;[#&lt;window index&gt;]:&lt;partition key&gt;</c>.
/// </summary>
/// <remarks>
/// <para>
/// The hash tag is 16 hex digits of a stable 64-bit FNV-1a hash of the partition key, so every rule of one partition
/// (hourly and daily) lands in one Redis Cluster slot and different partitions spread over the cluster. Since the
/// prefix may not contain braces and hex digits never do, the store's tag is always the first <c>{…}</c> of the key:
/// a caller-chosen key such as <c>a{x}@b</c> cannot pick its own slot.
/// </para>
/// <para>
/// The raw partition key follows, so that two partitions never share a counter even if their hashes collide, and an
/// operator can tell keys apart. Its length is bounded by <see cref="RateLimitRequest.MaxKeyLength"/>.
/// </para>
/// </remarks>
internal static class RedisCounterKey
{
    private const ulong FnvOffsetBasis = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;

    /// <summary>The window index of a key whose name carries none.</summary>
    public const long NoWindow = long.MinValue;

    /// <param name="prefix">The store's key prefix.</param>
    /// <param name="partitionKey">What is counted.</param>
    /// <param name="ruleId">The rule's shape.</param>
    /// <param name="windowIndex">The window the key belongs to, written as <c>#index</c> after the shape; <see cref="NoWindow"/> for none.</param>
    public static string Create(string prefix, string partitionKey, string ruleId, long windowIndex)
    {
        ulong hash = Hash(partitionKey);
        int indexLength = windowIndex == NoWindow ? 0 : 1 + (windowIndex < 0 ? 1 + CountDigits(-windowIndex) : CountDigits(windowIndex));
        int length = prefix.Length + 1 + 16 + 2 + ruleId.Length + indexLength + 1 + partitionKey.Length;
        return string.Create(length, (prefix, partitionKey, ruleId, hash, windowIndex), static (span, state) =>
        {
            state.prefix.AsSpan().CopyTo(span);
            int at = state.prefix.Length;
            span[at++] = '{';
            WriteHex(state.hash, span.Slice(at, 16));
            at += 16;
            span[at++] = '}';
            span[at++] = ':';
            state.ruleId.AsSpan().CopyTo(span[at..]);
            at += state.ruleId.Length;
            if (state.windowIndex != NoWindow)
            {
                span[at++] = '#';
                state.windowIndex.TryFormat(span[at..], out int written, default, CultureInfo.InvariantCulture);
                at += written;
            }

            span[at++] = ':';
            state.partitionKey.AsSpan().CopyTo(span[at..]);
        });
    }

    /// <summary>
    /// The reset tombstone beside a counter: the counter's name with <c>!reset:</c> before the rule id, in the same
    /// slot. Rule ids start with a letter, so no counter has this name.
    /// </summary>
    public static string Tombstone(string prefix, string partitionKey, string ruleId, long windowIndex)
        => Create(prefix, partitionKey, "!reset:" + ruleId, windowIndex);

    /// <summary>
    /// The marker that records a refunded acquisition, in the slot of <paramref name="partitionKey"/>; it names the
    /// shape of the longest rule, whose window bounds the marker's TTL.
    /// </summary>
    public static string RefundMarker(string prefix, string partitionKey, long acquisitionId, string longestRuleId)
        => Create(prefix, partitionKey, string.Create(CultureInfo.InvariantCulture, $"!refund:{acquisitionId}:{longestRuleId}"), NoWindow);

    /// <summary>
    /// FNV-1a over the UTF-16 code units, low byte first: stable across processes and platforms, unlike
    /// <see cref="string.GetHashCode()"/>, which is randomized per process.
    /// </summary>
    public static ulong Hash(string value)
    {
        ulong hash = FnvOffsetBasis;
        foreach (char c in value)
        {
            hash = (hash ^ (byte)c) * FnvPrime;
            hash = (hash ^ (byte)(c >> 8)) * FnvPrime;
        }

        return hash;
    }

    /// <summary>
    /// Writes the 16 lowercase hex digits of <paramref name="value"/>, as <c>x16</c> formatting does, without parsing a
    /// format string on every key: this runs on every acquire.
    /// </summary>
    private static void WriteHex(ulong value, Span<char> destination)
    {
        for (int i = 15; i >= 0; i--)
        {
            destination[i] = "0123456789abcdef"[(int)(value & 0xF)];
            value >>= 4;
        }
    }

    private static int CountDigits(long value)
    {
        int digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }
}
