namespace EmailGuard;

/// <summary>Raising a shared value to a maximum without a lock.</summary>
internal static class AtomicMax
{
    /// <summary>Raises <paramref name="location"/> to <paramref name="value"/> if it is lower; never lowers it.</summary>
    /// <param name="location">The value shared between threads.</param>
    /// <param name="value">The value it must at least hold afterwards.</param>
    public static void Raise(ref long location, long value)
    {
        long seen = Volatile.Read(ref location);
        while (value > seen)
        {
            long prior = Interlocked.CompareExchange(ref location, value, seen);
            if (prior == seen)
            {
                return;
            }

            seen = prior;
        }
    }
}
