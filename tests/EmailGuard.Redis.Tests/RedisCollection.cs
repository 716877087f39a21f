using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests;

/// <summary>Every test that needs the single Redis server shares one <see cref="RedisServerFixture"/>.</summary>
[CollectionDefinition(RedisServerFixture.CollectionName)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>;
