using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// One policy's latest "too many requests" answer (its <c>Retry-After</c> value and problem-details body), kept because a
/// flood's answers differ only when the retry-after does, once a second: the flood is then answered with bytes written
/// once, not serialized again for every request. The answer is <see cref="ProblemDetailsWriter"/>'s, so it is
/// byte-for-byte what the writer would have written.
/// </summary>
internal sealed class RejectionBodyCache
{
    private Entry? _latest;

    /// <summary>The detail of a "too many requests" answer.</summary>
    public static string Detail(long seconds)
        => string.Create(CultureInfo.InvariantCulture, $"Too many requests. Try again in {seconds} seconds.");

    /// <summary>Gets the answer of <paramref name="policy"/> with <paramref name="status"/> and a retry-after of <paramref name="seconds"/>.</summary>
    /// <param name="status">The status code, which names the problem type and title.</param>
    /// <param name="seconds">The retry-after, in whole seconds.</param>
    /// <param name="policy">The policy's name, always the same for one cache.</param>
    public Entry Get(int status, long seconds, string policy)
    {
        Entry? latest = Volatile.Read(ref _latest);
        if (latest is not null && latest.Seconds == seconds && latest.Status == status && ReferenceEquals(latest.Policy, policy))
        {
            return latest;
        }

        // Racing writers build equal entries; whichever lands last is as good as the other.
        latest = new Entry(status, seconds, policy, ProblemDetailsWriter.Serialize(status, Detail(seconds), seconds, policy));
        Volatile.Write(ref _latest, latest);
        return latest;
    }

    /// <summary>One answer; immutable, so a reader never sees half of two.</summary>
    internal sealed class Entry(int status, long seconds, string policy, byte[] body)
    {
        public int Status { get; } = status;

        public long Seconds { get; } = seconds;

        public string Policy { get; } = policy;

        /// <summary>The <c>Retry-After</c> header value.</summary>
        public string RetryAfter { get; } = seconds.ToString(CultureInfo.InvariantCulture);

        /// <summary>The problem-details body, UTF-8 JSON.</summary>
        public byte[] Body { get; } = body;
    }
}
