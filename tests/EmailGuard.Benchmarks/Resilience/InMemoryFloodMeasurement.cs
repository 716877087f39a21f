using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Benchmarks.Resilience;

/// <summary>
/// Floods the in-memory store with 1,000,000 distinct keys at MaxTrackedKeys = 100,000 and reports the retained
/// memory per tracked key, that the cap held, and that a victim's counter survived. A one-shot measurement of
/// retained memory, which BenchmarkDotNet's allocation diagnoser does not measure, so it is a plain program.
/// </summary>
internal static class InMemoryFloodMeasurement
{
    private const int Cap = 100_000;
    private const int Flood = 1_000_000;

    public static void Run()
    {
        Measure("fixed window (1 h)", RateLimitRule.PerHour(5));
        Measure("sliding window (1 h, 10 segments)", RateLimitRule.SlidingWindow(5, TimeSpan.FromHours(1), 10));
    }

    private static void Measure(string name, RateLimitRule rule)
    {
        FixedTimeProvider time = new(new DateTimeOffset(2026, 11, 23, 4, 30, 0, TimeSpan.Zero));
        InMemoryRateLimitStore store = new(new InMemoryRateLimitStoreOptions { MaxTrackedKeys = Cap, SweepInterval = TimeSpan.FromDays(1) }, time);
        RateLimitRequest[] request = [new("victim@example.com", rule)];
        RateLimitEntry[] result = new RateLimitEntry[1];
        for (int i = 0; i < rule.Limit; i++)
        {
            Check(store.AcquireAsync(request, result).Result.Status == RateLimitStatus.Allowed, "the victim uses its quota");
        }

        long before = GC.GetTotalMemory(forceFullCollection: true);
        int trackedBefore = store.TrackedKeys;
        int admitted = 0;
        int deniedForCapacity = 0;
        Stopwatch elapsed = Stopwatch.StartNew();
        for (int i = 0; i < Flood; i++)
        {
            // Keys shaped like hashed recipients, created on the fly: only the ones the store keeps stay alive.
            request[0] = new RateLimitRequest(string.Create(CultureInfo.InvariantCulture, $"rcpt:{i:x8}{i * 2654435761L:x8}"), rule);
            if (store.AcquireAsync(request, default).Result.Status == RateLimitStatus.Allowed)
            {
                admitted++;
            }
            else
            {
                deniedForCapacity++;
            }
        }

        elapsed.Stop();
        request[0] = default;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        int added = store.TrackedKeys - trackedBefore;

        request[0] = new RateLimitRequest("victim@example.com", rule);
        RateLimitDecision victim = store.AcquireAsync(request, result).Result;

        Console.WriteLine($"in-memory flood, {name}:");
        Console.WriteLine($"  {Flood:N0} distinct keys in {elapsed.Elapsed.TotalSeconds:0.00} s ({Flood / elapsed.Elapsed.TotalSeconds:N0}/s); admitted {admitted:N0}, denied at the cap {deniedForCapacity:N0}");
        Console.WriteLine($"  tracked keys {store.TrackedKeys:N0} (cap {Cap:N0}): cap held = {store.TrackedKeys <= Cap}");
        Console.WriteLine($"  retained memory {(after - before) / 1024.0 / 1024.0:0.0} MiB for {added:N0} keys = {(after - before) / (double)added:0} bytes per tracked key (key string included)");
        Console.WriteLine($"  victim after the flood: {victim.Status}, count {result[0].Count}/{result[0].Limit}: counter survived = {victim.Status == RateLimitStatus.LimitExceeded && result[0].Count == rule.Limit}");
        GC.KeepAlive(store);
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Measurement precondition failed: {what}.");
        }
    }
}
