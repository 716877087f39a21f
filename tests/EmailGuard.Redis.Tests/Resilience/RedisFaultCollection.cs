using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Fault tests stop, restart and flush Redis, so they get a redis-server of their own instead of the shared one. They
/// also run alone (about 15 s): they bound how long any caller waits during an outage. In full runs on a 2-core
/// machine, beside the concurrency suites, one call in about ten runs took 25 s; in 15 runs alone the slowest of
/// 40,000 calls per run took 320 ms (the timeout is 250 ms). Run beside the neighbours, the bound measured them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RedisFaultCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis-faults";
}
