using EmailGuard.Testing.Redis;

namespace EmailGuard.Sample.Tests;

/// <summary>One Redis for the sample's Redis tests: EMAILGUARD_REDIS, else a local redis-server, else Testcontainers.</summary>
[CollectionDefinition(RedisServerFixture.CollectionName)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>;
