namespace EmailGuard.Testing;

/// <summary>
/// Measures what code allocates on the calling thread, robustly in a busy test run: the least of several rounds. The
/// code under test rents scratch arrays from <see cref="System.Buffers.ArrayPool{T}.Shared"/>, which a gen-2
/// collection anywhere in the process may trim; the next rent then allocates once, in one round. An allocation made
/// by every call shows in every round, so the least round still catches it.
/// </summary>
public static class Allocations
{
    /// <summary>The fewest bytes any of <paramref name="rounds"/> rounds of <paramref name="round"/> allocated.</summary>
    /// <param name="round">One round of calls.</param>
    /// <param name="rounds">How many rounds to run; three by default.</param>
    /// <returns>Bytes allocated by the least allocating round.</returns>
    public static long LeastOf(Action round, int rounds = 3)
    {
        ArgumentNullException.ThrowIfNull(round);
        long least = long.MaxValue;
        for (int i = 0; i < rounds; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            round();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
