namespace EmailGuard.Testing.Pacing;

/// <summary>The token bucket's guarantee, checked on the times messages were (or will be) sent.</summary>
public static class PacingAssertions
{
    /// <summary>
    /// Finds the worst interval: the most sends between two send times (inclusive) beyond <c>burst + rate × t</c>, where
    /// t is the distance between them. Zero or less when the pace holds over every interval.
    /// </summary>
    /// <param name="times">The send times, in any order.</param>
    /// <param name="burst">The bucket's burst.</param>
    /// <param name="rate">Permits per <paramref name="period"/>.</param>
    /// <param name="period">The rate's period.</param>
    /// <returns>The largest excess over any interval, in messages (exact, in integer arithmetic scaled by the period).</returns>
    public static double WorstExcess(IEnumerable<DateTimeOffset> times, long burst, long rate, TimeSpan period)
    {
        long[] ticks = [.. times.Select(t => t.UtcTicks).Order()];
        double periodTicks = period.Ticks;

        // Sends i..j (i <= j) number j - i + 1 within t = ticks[j] - ticks[i]: the excess is
        // (j - i + 1) - burst - rate × t / period = 1 - burst + (j - rate × ticks[j] / period) - (i - rate × ticks[i] / period).
        // The maximum over pairs is a running minimum of the second term.
        double worst = double.NegativeInfinity;
        double minimum = double.PositiveInfinity;
        for (int j = 0; j < ticks.Length; j++)
        {
            double term = j - (rate * ticks[j] / periodTicks);
            minimum = Math.Min(minimum, term);
            worst = Math.Max(worst, 1 - burst + term - minimum);
        }

        return ticks.Length == 0 ? 0 : worst;
    }
}
