using BenchmarkDotNet.Running;

// Concurrent throughput against Redis is not a BenchmarkDotNet question; it has its own harness.
if (args is ["redis-throughput", .. string[] rest])
{
    return await EmailGuard.Benchmarks.Redis.RedisThroughput.RunAsync(rest);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
