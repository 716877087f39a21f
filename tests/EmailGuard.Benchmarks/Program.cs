using BenchmarkDotNet.Running;
using EmailGuard.Benchmarks;
using EmailGuard.Benchmarks.Resilience;

// EMAILGUARD_ALLOCATION_SAMPLES=1: which types the run allocated, printed at its end (see AllocationSampler).
using AllocationSampler? allocationSampler = AllocationSampler.FromEnvironment();
int exitCode = await RunAsync(args);
allocationSampler?.Print();
return exitCode;

static async Task<int> RunAsync(string[] args)
{
    // "measure memory|keycache|redis|cluster|reservations|all" are one-shot measurements (retained memory, latency under load, breaker
    // timings) that BenchmarkDotNet's harness does not fit; everything else goes to BenchmarkDotNet.
    if (args is ["measure", var what, ..])
    {
        if (what is "memory" or "all")
        {
            InMemoryFloodMeasurement.Run();
        }

        if (what is "keycache" or "all")
        {
            KeyCacheMeasurement.Run();
        }

        if (what is "redis" or "all")
        {
            await RedisResilienceMeasurement.RunAsync();
        }

        if (what is "cluster" or "all")
        {
            await RedisResilienceMeasurement.RunClusterAsync();
        }

        if (what is "reservations" or "all")
        {
            await ReservationCostMeasurement.RunAsync(args is [_, _, var calls, ..] ? int.Parse(calls, System.Globalization.CultureInfo.InvariantCulture) : 10_000);
        }

        return 0;
    }

    // Concurrent throughput against Redis is not a BenchmarkDotNet question; it has its own harness.
    // One scenario alone, for a profiler: the store over 10,000 keys at 64 callers.
    if (args is ["redis-throughput-keys", .. string[] keysRest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunKeysOnlyAsync(keysRest);
    }

    // The store over 10,000 keys against the raw script over 10,000 keys alone, with where the time goes.
    if (args is ["redis-throughput-spread", .. string[] spreadRest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunSpreadOnlyAsync(spreadRest);
    }

    // Two builds' stores over 10,000 keys in one process, in alternating rounds with the raw script (a loaded machine).
    if (args is ["redis-throughput-compare", .. string[] compareRest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisBuildComparison.RunAsync(compareRest);
    }

    // One scenario alone, for a profiler: full guard checks on Redis at 64 callers.
    if (args is ["redis-throughput-guard-alone", .. string[] guardAloneRest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunGuardAloneAsync(guardAloneRest);
    }

    // The full guard check against the raw script over 10,000 keys, batched and not, with where the time goes.
    if (args is ["redis-throughput-guard", .. string[] guardRest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunGuardOnlyAsync(guardRest);
    }

    // What keeping a large blocklist current costs: catch-up by changes against loading the whole state, on Redis.
    if (args is ["state-catchup", .. string[] catchUpRest])
    {
        return await EmailGuard.Benchmarks.Redis.StateCatchUpMeasurement.RunAsync(catchUpRest);
    }

    if (args is ["redis-throughput", .. string[] rest])
    {
        return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunAsync(rest);
    }

    // Builds of EmailGuard side by side in one process, their guard checks in alternating batches (before/after on a loaded machine).
    if (args is ["--compare-builds", .. string[] builds])
    {
        return BuildComparison.Run(builds);
    }

    // One in-memory case in a loop, for a profiler: "check-loop [case] [seconds]" (CheckSameRecipient, 20 s by default).
    if (args is ["check-loop", .. string[] loopRest])
    {
        return CheckLoop.Run(loopRest);
    }

    // Baseline and in-memory store in alternating batches, for machines too loaded to compare sequential runs.
    if (args is ["--paired"])
    {
        PairedComparison.Run();
        return 0;
    }

    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    return 0;
}
