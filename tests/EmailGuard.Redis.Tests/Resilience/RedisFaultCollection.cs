using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// Fault tests stop, restart and flush Redis, so they get a redis-server of their own instead of the shared one: the
/// other Redis tests keep running in parallel on theirs, undisturbed.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RedisFaultCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis-faults";
}
