using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Benchmarks;

/// <summary>
/// One <see cref="SendGuardBenchmarks"/> case in a loop for a fixed time, nothing else in the process: what
/// <c>perf record</c> (with <c>DOTNET_PerfMapEnabled=1</c>) profiles to show where a check's time goes.
/// </summary>
internal static class CheckLoop
{
    public static int Run(string[] args)
    {
        string name = args.Length > 0 ? args[0] : nameof(SendGuardBenchmarks.CheckSameRecipient);
        double seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        SendGuardBenchmarks benchmarks = new();
        benchmarks.Setup();
        Func<EmailSendDecision> check = name switch
        {
            nameof(SendGuardBenchmarks.CheckSameRecipient) => benchmarks.CheckSameRecipient,
            nameof(SendGuardBenchmarks.CheckRotatingRecipients) => benchmarks.CheckRotatingRecipients,
            nameof(SendGuardBenchmarks.CheckCountingSends) => benchmarks.CheckCountingSends,
            _ => throw new ArgumentException($"No case {name}.", nameof(args)),
        };

        long checks = 0;
        Stopwatch clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            for (int i = 0; i < 100_000; i++)
            {
                _ = check().IsAllowed;
            }

            checks += 100_000;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {checks:N0} checks, {clock.Elapsed.TotalNanoseconds / checks:F0} ns each"));
        return 0;
    }
}
