using EmailGuard.Testing.Redis;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>The Redis end-to-end tests share one <see cref="RedisServerFixture"/>.</summary>
[CollectionDefinition(RedisServerFixture.CollectionName)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>;
