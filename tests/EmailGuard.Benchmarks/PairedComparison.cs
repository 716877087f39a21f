using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Benchmarks;

/// <summary>
/// A cross-check for noisy machines: runs the baseline and the in-memory store in alternating batches, so both see
/// the same background load, and reports each one's fastest and median batch. Run with <c>-- --paired</c>.
/// </summary>
internal static class PairedComparison
{
    private const int Rounds = 200;
    private const int BatchOperations = 50_000;

    public static void Run()
    {
        InMemoryStoreBenchmarks benchmarks = new();
        benchmarks.Setup();
        (string Name, Func<bool> Operation)[] cases =
        [
            ("PartitionedRateLimiter fixed window, 1 key", benchmarks.PartitionedFixedWindow),
            ("InMemory fixed window, 1 key", benchmarks.InMemoryFixedWindow),
            ("InMemory sliding window x10, 1 key", benchmarks.InMemorySlidingWindow),
        ];
        double[][] nanoseconds = cases.Select(_ => new double[Rounds]).ToArray();
        long[] allocated = new long[cases.Length];
        for (int round = 0; round < Rounds; round++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                Func<bool> operation = cases[c].Operation;
                long bytesBefore = GC.GetAllocatedBytesForCurrentThread();
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < BatchOperations; i++)
                {
                    operation();
                }

                nanoseconds[c][round] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / BatchOperations;
                allocated[c] += GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
            }
        }

        benchmarks.Cleanup();
        Console.WriteLine($"{Rounds} alternating rounds of {BatchOperations:N0} operations (includes a delegate call per operation)");
        for (int c = 0; c < cases.Length; c++)
        {
            double[] sorted = [.. nanoseconds[c].Order()];
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{cases[c].Name,-45} fastest {sorted[0],7:F1} ns  median {sorted[Rounds / 2],7:F1} ns  allocated {(double)allocated[c] / Rounds / BatchOperations,6:F1} B/op"));
        }
    }
}
