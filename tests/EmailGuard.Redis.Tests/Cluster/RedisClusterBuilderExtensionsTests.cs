using EmailGuard.Redis.Tests.DependencyInjection;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary><c>AddRedisStore</c> wired to a three-master Redis Cluster by its connection string or a registered multiplexer.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterBuilderExtensionsTests(RedisClusterFixture cluster)
    : EmailGuardRedisBuilderExtensionsTestsBase(cluster.CreateMultiplexer, cluster.ConnectionString);
