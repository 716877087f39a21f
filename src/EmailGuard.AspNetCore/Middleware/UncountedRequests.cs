namespace EmailGuard.AspNetCore;

/// <summary>
/// The requests one policy counted in none of its partitions (every partition's value missing and left out). Each is
/// measured; the warning about them is logged at most once every <see cref="LogInterval"/>, with how many came since the
/// last one, so a flood of them (an attacker leaving out the tenant header) writes one line per interval, not one per
/// request.
/// </summary>
internal sealed class UncountedRequests
{
    /// <summary>How often a policy's uncounted requests are logged at most.</summary>
    public static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(5);

    /// <summary>When the warning was last logged (<see cref="TimeProvider.GetTimestamp"/>), or <see cref="long.MinValue"/>.</summary>
    private long _loggedAt = long.MinValue;

    /// <summary>The uncounted requests since the warning was last logged.</summary>
    private long _since;

    /// <summary>
    /// Notes one uncounted request; <see langword="true"/> when the warning is due, with <paramref name="count"/> the
    /// requests it speaks for (this one and those noted since the last warning).
    /// </summary>
    public bool Note(TimeProvider time, out long count)
    {
        Interlocked.Increment(ref _since);
        long last = Interlocked.Read(ref _loggedAt);
        long now = time.GetTimestamp();
        if ((last == long.MinValue || time.GetElapsedTime(last, now) >= LogInterval)
            && Interlocked.CompareExchange(ref _loggedAt, now, last) == last)
        {
            count = Interlocked.Exchange(ref _since, 0);
            return true;
        }

        count = 0;
        return false;
    }
}
