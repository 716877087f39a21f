using System.Diagnostics;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;

namespace EmailGuard.Benchmarks;

/// <summary>
/// Two or more builds of EmailGuard side by side in one process, for a machine too loaded to compare runs made one
/// after the other: each build's <see cref="SendGuardBenchmarks"/> is loaded from its own output folder into a load
/// context of its own, and their checks run in alternating batches, so every build sees the same background load.
/// Reports each build's fastest and median batch and its median ratio to the first build. The first build loaded runs
/// a few percent slower than the same build loaded second (3–6% on a 2-core box), so compare in both orders. Run with
/// <c>-- --compare-builds &lt;folder&gt; &lt;folder&gt;... [rounds] [operations]</c>, each folder a built
/// <c>tests/EmailGuard.Benchmarks/bin/Release/net10.0</c> (a <c>git worktree</c> of the base, built once). A case that
/// an older build's benchmarks lack (<c>CheckCountingSends</c> before December 2) is left out of every build's figures,
/// so the builds before issue 19's work (<c>4503c60</c>) can be the baseline.
/// </summary>
internal static class BuildComparison
{
    private static readonly string[] s_cases = ["CheckSameRecipient", "CheckRotatingRecipients", "CheckCountingSends"];

    public static int Run(string[] args)
    {
        string[] folders = args.TakeWhile(arg => !char.IsAsciiDigit(arg[0])).ToArray();
        string[] numbers = args.Skip(folders.Length).ToArray();
        int rounds = numbers.Length > 0 ? int.Parse(numbers[0], CultureInfo.InvariantCulture) : 20;
        int operations = numbers.Length > 1 ? int.Parse(numbers[1], CultureInfo.InvariantCulture) : 100_000;
        if (folders.Length < 2 || rounds < 2)
        {
            Console.Error.WriteLine("usage: --compare-builds <folder> <folder>... [rounds (>= 2)] [operations]");
            return 2;
        }

        Func<bool>?[][] loaded = folders.Select(Load).ToArray();
        string[] cases = s_cases.Where((_, c) => loaded.All(build => build[c] is not null)).ToArray();
        Func<bool>[][] checks = loaded
            .Select(build => build.Where((_, c) => loaded.All(other => other[c] is not null)).Select(check => check!).ToArray())
            .ToArray();
        foreach (string missing in s_cases.Except(cases))
        {
            Console.WriteLine($"{missing}: not in every build, left out");
        }

        for (int warmup = 0; warmup < 3; warmup++)
        {
            foreach (Func<bool> check in checks.SelectMany(build => build))
            {
                Repeat(check, 200_000);
            }
        }

        double[,,] nanoseconds = new double[folders.Length, cases.Length, rounds];
        double[,,] cpuNanoseconds = new double[folders.Length, cases.Length, rounds];
        long[,] allocated = new long[folders.Length, cases.Length];
        for (int round = 0; round < rounds; round++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                for (int i = 0; i < folders.Length; i++)
                {
                    // Every other round backwards, so no build always runs first.
                    int build = round % 2 == 0 ? i : folders.Length - 1 - i;
                    long bytesBefore = GC.GetAllocatedBytesForCurrentThread();
                    long cpuStart = ThreadCpuClock.Nanoseconds();
                    long start = Stopwatch.GetTimestamp();
                    Repeat(checks[build][c], operations);
                    nanoseconds[build, c, round] = Stopwatch.GetElapsedTime(start).TotalNanoseconds / operations;
                    cpuNanoseconds[build, c, round] = (double)(ThreadCpuClock.Nanoseconds() - cpuStart) / operations;
                    allocated[build, c] += GC.GetAllocatedBytesForCurrentThread() - bytesBefore;
                }
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{rounds} alternating rounds of {operations:N0} checks per build (includes a delegate call per check)"));
        for (int b = 0; b < folders.Length; b++)
        {
            Console.WriteLine($"  {(char)('A' + b)}: {folders[b]}");
        }

        for (int c = 0; c < cases.Length; c++)
        {
            StringBuilder line = new($"{cases[c],-24}");
            for (int b = 0; b < folders.Length; b++)
            {
                double[] sorted = Enumerable.Range(0, rounds).Select(r => nanoseconds[b, c, r]).Order().ToArray();
                double[] ratios = Enumerable.Range(0, rounds).Select(r => nanoseconds[b, c, r] / nanoseconds[0, c, r]).Order().ToArray();
                line.Append(CultureInfo.InvariantCulture, $" | {(char)('A' + b)} fastest {sorted[0],5:F0} median {sorted[rounds / 2],5:F0} ns, {ratios[rounds / 2]:F3}x A, {(double)allocated[b, c] / rounds / operations:F1} B");
            }

            Console.WriteLine(line);
        }

        if (ThreadCpuClock.IsAvailable)
        {
            // The same batches by the thread's CPU time, which leaves out the time it waited for a core.
            Console.WriteLine("thread CPU time of the same batches:");
            for (int c = 0; c < cases.Length; c++)
            {
                StringBuilder line = new($"{cases[c],-24}");
                for (int b = 0; b < folders.Length; b++)
                {
                    double[] sorted = Enumerable.Range(0, rounds).Select(r => cpuNanoseconds[b, c, r]).Order().ToArray();
                    double[] ratios = Enumerable.Range(0, rounds).Select(r => cpuNanoseconds[b, c, r] / cpuNanoseconds[0, c, r]).Order().ToArray();
                    line.Append(CultureInfo.InvariantCulture, $" | {(char)('A' + b)} fastest {sorted[0],5:F0} median {sorted[rounds / 2],5:F0} ns, {ratios[rounds / 2]:F3}x A");
                }

                Console.WriteLine(line);
            }
        }

        return 0;
    }

    /// <summary>A build's checks, as delegates that read the decision (so it is not optimized away) and box nothing.</summary>
    private static Func<bool>?[] Load(string folder)
    {
        Type type = BuildLoadContext.LoadBenchmarkType(folder, typeof(SendGuardBenchmarks));
        object instance = Activator.CreateInstance(type)!;
        type.GetMethod(nameof(SendGuardBenchmarks.Setup))!.Invoke(instance, null);
        return s_cases
            .Select(name => type.GetMethod(name) is { } method
                ? Expression.Lambda<Func<bool>>(
                    Expression.Property(Expression.Call(Expression.Constant(instance), method), nameof(EmailSendDecision.IsAllowed))).Compile()
                : null)
            .ToArray();
    }

    private static void Repeat(Func<bool> check, int times)
    {
        for (int i = 0; i < times; i++)
        {
            check();
        }
    }
}
