using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Benchmarks.Resilience;

/// <summary>
/// Floods the in-memory store with 1,000,000 distinct keys at MaxTrackedKeys = 100,000 and reports the retained
/// memory per tracked key, what the 900,000 keys past the cap added (the overflow sketch, nothing per key), that the
/// cap held, that keys past it were still admitted, and that a victim's counter survived. A one-shot measurement of
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
        int denied = 0;
        long atCap = 0;
        Stopwatch elapsed = Stopwatch.StartNew();
        for (int i = 0; i < Flood; i++)
        {
            if (i == Cap)
            {
                elapsed.Stop();
                request[0] = default;
                atCap = GC.GetTotalMemory(forceFullCollection: true);
                elapsed.Start();
            }

            // Keys shaped like hashed recipients, created on the fly: only the ones the store keeps stay alive.
            request[0] = new RateLimitRequest(string.Create(CultureInfo.InvariantCulture, $"rcpt:{i:x8}{i * 2654435761L:x8}"), rule);
            if (store.AcquireAsync(request, default).Result.Status == RateLimitStatus.Allowed)
            {
                admitted++;
            }
            else
            {
                denied++;
            }
        }

        elapsed.Stop();
        request[0] = default;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        int added = store.TrackedKeys - trackedBefore;
        int legitimate = 0;
        for (int i = 0; i < 1_000; i++)
        {
            request[0] = new RateLimitRequest(string.Create(CultureInfo.InvariantCulture, $"user-{i}@example.com"), rule);
            legitimate += store.AcquireAsync(request, default).Result.Status == RateLimitStatus.Allowed ? 1 : 0;
        }

        request[0] = new RateLimitRequest("victim@example.com", rule);
        RateLimitDecision victim = store.AcquireAsync(request, result).Result;

        // Decisions through the overflow path on keys built beforehand: the bytes they allocate, per decision.
        RateLimitRequest[] overflow = Enumerable.Range(0, 10_000).Select(i => new RateLimitRequest($"late-{i}", rule)).ToArray();
        for (int i = 0; i < overflow.Length; i++)
        {
            _ = store.AcquireAsync(overflow.AsMemory(i, 1), result).Result;
        }

        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            _ = store.AcquireAsync(overflow.AsMemory(i % overflow.Length, 1), result).Result;
        }

        double allocatedPerDecision = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / 100_000.0;

        Console.WriteLine($"in-memory flood, {name}:");
        Console.WriteLine($"  {Flood:N0} distinct keys in {elapsed.Elapsed.TotalSeconds:0.00} s ({Flood / elapsed.Elapsed.TotalSeconds:N0}/s); admitted {admitted:N0}, denied {denied:N0}, overflow decisions {store.OverflowDecisions:N0}");
        Console.WriteLine($"  tracked keys {store.TrackedKeys:N0} (cap {Cap:N0}): cap held = {store.TrackedKeys <= Cap}; new keys after the flood admitted: {legitimate:N0} of 1,000");
        Console.WriteLine($"  retained memory at the cap {(atCap - before) / 1024.0 / 1024.0:0.0} MiB for {added:N0} keys = {(atCap - before) / (double)added:0} bytes per tracked key (key string included)");
        Console.WriteLine($"  the {Flood - Cap:N0} keys past the cap added {(after - atCap) / 1024.0 / 1024.0:0.0} MiB (the overflow sketch) = {(after - atCap) / (double)(Flood - Cap):0.0} bytes per key");
        Console.WriteLine($"  a decision through the overflow path allocates {allocatedPerDecision:0.##} bytes");
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
