using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests;

/// <summary>Cluster tests share one three-master cluster, apart from the single-server tests so they do not slow them.</summary>
[CollectionDefinition(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>;
