namespace EmailGuard;

/// <summary>
/// The arithmetic of windows and segments, in Unix milliseconds. The Redis scripts implement the same formulas in Lua;
/// the differential test holds the two to identical answers.
/// </summary>
internal static class WindowMath
{
    /// <summary>Floor division for a positive divisor, correct for negative dividends too.</summary>
    public static long FloorDiv(long value, long divisor)
    {
        // Times after 1970 take the first branch: one division instead of a division and a remainder.
        if (value >= 0)
        {
            return value / divisor;
        }

        long q = value / divisor;
        return value % divisor != 0 ? q - 1 : q;
    }

    /// <summary>Non-negative modulo for a positive divisor.</summary>
    public static long Mod(long value, long divisor)
    {
        long r = value % divisor;
        return r < 0 ? r + divisor : r;
    }

    /// <summary>The end of the fixed window (aligned to the epoch) that holds <paramref name="nowMs"/>.</summary>
    public static long FixedWindowEnd(long nowMs, long windowMs) => (FloorDiv(nowMs, windowMs) + 1) * windowMs;

    public static TimeSpan Milliseconds(long ms) => TimeSpan.FromTicks(ms * TimeSpan.TicksPerMillisecond);

    public static DateTimeOffset FromUnixMilliseconds(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
