using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The script-cache tests flush, stop and start Redis and read its server-wide counters (<c>INFO errorstats</c>,
/// <c>INFO commandstats</c>), so they get a redis-server of their own: no other suite's scripts are counted, and no
/// other suite sees the flushes and restarts.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RedisScriptCacheCollection : ICollectionFixture<RedisServerFixture>
{
    public const string Name = "redis-script-cache";
}
