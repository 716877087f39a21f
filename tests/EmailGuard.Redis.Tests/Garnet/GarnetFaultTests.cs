using EmailGuard.Redis.Tests.Resilience;
using EmailGuard.Testing.Redis;
using Xunit.Abstractions;

// The fault suites whose server hangs, run on a Garnet of their own frozen with SIGSTOP as redis-server is: a paused
// Garnet must give the guarantees a paused Redis gives (each caller its failure mode within the timeout, exact counts
// once it runs again), and Garnet runs its Lua on several threads, which a Redis never does.
namespace EmailGuard.Redis.Tests.Garnet;

/// <summary>
/// The Garnet fault suites share one Garnet of their own and run alone, as the Redis fault suites do: they freeze the
/// server and bound how long callers wait.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GarnetFaultCollection : ICollectionFixture<GarnetServerFixture>
{
    public const string Name = "garnet-faults";
}

/// <summary>A Garnet frozen with 64 callers queued behind one script: each gets its failure mode, and the counters stay exact.</summary>
[Collection(GarnetFaultCollection.Name)]
public sealed class GarnetHungServerTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisHungServerTests(garnet, output);

/// <summary>A Garnet frozen under a flood answered from the over-limit cache: the circuit still opens.</summary>
[Collection(GarnetFaultCollection.Name)]
public sealed class GarnetHungServerCacheTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisHungServerCacheTests(garnet, output);

/// <summary>A Garnet frozen with batches in flight, then let run: every counter holds exactly what callers were told of.</summary>
[Collection(GarnetFaultCollection.Name)]
public sealed class GarnetPausedServerTests(GarnetServerFixture garnet, ITestOutputHelper output) : RedisPausedServerTests(garnet, output);
