using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Guard;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>The largest and malformed messages on a Redis Cluster, where 4,096 keys span most slots.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterSendGuardSizeTests(RedisClusterFixture cluster) : SendGuardSizeTests
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();

    protected override IRateLimitStore CreateStore(FakeTimeProvider time) => RedisStoreTestBase.CreateStore(cluster.CreateMultiplexer(), _prefix, time);
}
