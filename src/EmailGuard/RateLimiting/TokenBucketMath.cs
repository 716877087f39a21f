namespace EmailGuard;

/// <summary>
/// The arithmetic of a token bucket decided with GCRA, in Unix microseconds. A bucket is one number, its theoretical
/// arrival time (TAT): when it will be full again. Taking <c>cost</c> permits moves the TAT to
/// <c>max(TAT, now) + cost × T</c>; they fit while that stays within <c>burst × T</c> of now. The Redis scripts
/// implement the same formulas in Lua; the differential test holds the two to identical answers.
/// </summary>
internal static class TokenBucketMath
{
    /// <summary>The TAT of a bucket that has never been used: earlier than any "now", and far from overflow.</summary>
    public const long Empty = long.MinValue / 4;

    /// <summary>
    /// The TAT of a bucket written under the bucket interval <paramref name="fromUs"/> (<see cref="RateLimitRule.BucketIntervalMicroseconds"/>),
    /// as <paramref name="rule"/> reads it at <paramref name="nowMs"/>: unchanged when the intervals are the same (a
    /// reduced rule reads the TAT as a time) or the bucket is full; else the permits it holds back under the old
    /// interval, rounded up, stay held back under the new one: <c>now + spent × new</c>, but no further ahead than
    /// the rule's full refill or the time already owed, whichever is longer. The Redis scripts compute the same.
    /// </summary>
    /// <remarks>
    /// A raised bucket then refills the spent permits at its new rate; a lowered one holds back what was spent, up to
    /// its whole burst, which is what the same permits taken at this instant would leave of a bucket configured so
    /// from the start. 0 for <paramref name="fromUs"/> means unknown (a bare TAT): read as a time, unchanged.
    /// </remarks>
    public static long Rebased(long tatUs, long fromUs, RateLimitRule rule, long nowMs)
    {
        long toUs = rule.BucketIntervalMicroseconds;
        long nowUs = nowMs * 1000;
        if (fromUs == toUs || fromUs <= 0 || tatUs <= nowUs)
        {
            return tatUs;
        }

        long owed = tatUs - nowUs;
        long spent = (owed + fromUs - 1) / fromUs;
        long cap = Math.Max(owed, rule.Limit * rule.EmissionIntervalMicroseconds);
        return nowUs + (spent > cap / toUs ? cap : spent * toUs);
    }

    /// <summary>The permits a bucket holds back at <paramref name="nowMs"/>: its TAT's distance from now, in whole intervals, rounded up.</summary>
    public static long CountAt(long tatUs, long nowMs, long intervalUs)
    {
        long ahead = tatUs - (nowMs * 1000);
        return ahead <= 0 ? 0 : (ahead + intervalUs - 1) / intervalUs;
    }

    /// <summary>The TAT after taking <paramref name="cost"/> permits at <paramref name="nowMs"/>.</summary>
    public static long After(long tatUs, long nowMs, long intervalUs, long cost) => Math.Max(tatUs, nowMs * 1000) + (cost * intervalUs);

    /// <summary>
    /// How many ms from now until a bucket at <paramref name="tatUs"/> has room for <paramref name="room"/> more
    /// permits than <c>burst - room</c> (room = burst minus the costs wanted): the first millisecond at which
    /// <c>max(TAT, t) + wanted × T ≤ t + burst × T</c>.
    /// </summary>
    public static long WaitMs(long tatUs, long nowMs, long intervalUs, long room)
    {
        long wait = Math.Max(tatUs, nowMs * 1000) - (room * intervalUs) - (nowMs * 1000);
        return wait <= 0 ? 0 : (wait + 999) / 1000;
    }

    /// <summary>How long an empty bucket takes to refill, in whole ms (rounded up): the longest any permit stays in it.</summary>
    public static long RefillMs(RateLimitRule rule) => ((rule.Limit * rule.EmissionIntervalMicroseconds) + 999) / 1000;

    /// <summary>When the bucket is full again, in Unix ms (rounded up): now for a full bucket.</summary>
    public static long ResetAtMs(long tatUs, long nowMs) => tatUs > nowMs * 1000 ? WindowMath.FloorDiv(tatUs + 999, 1000) : nowMs;

    /// <summary>
    /// A refund: the TAT moved back by <paramref name="cost"/> intervals (at most a burst's worth), never before now;
    /// unchanged once the permits taken at <paramref name="acquiredAtMs"/> cannot be held any more: an empty bucket
    /// refills in <see cref="RefillMs"/>, so after that they have surely left it; and unchanged when permits taken
    /// later had to wait for these (the TAT is then more than a burst past the acquire), since moving it back would hand
    /// their reserved slot to someone else too.
    /// </summary>
    public static long Refunded(long tatUs, RateLimitRule rule, long acquiredAtMs, long cost, long nowMs)
    {
        long nowUs = nowMs * 1000;
        long taken = Math.Min(cost, rule.Limit);
        long back = tatUs - (taken * rule.EmissionIntervalMicroseconds);
        if (tatUs <= nowUs || nowMs >= acquiredAtMs + RefillMs(rule) || back > (acquiredAtMs * 1000) + ((rule.Limit - taken) * rule.EmissionIntervalMicroseconds))
        {
            // The last test: later permits were queued behind these (a reservation waited for them), so the TAT
            // cannot move back without letting a new caller take the slot of one already promised.
            return tatUs;
        }

        return Math.Max(back, nowUs);
    }
}
