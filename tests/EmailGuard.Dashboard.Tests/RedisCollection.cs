using EmailGuard.Testing.Redis;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The dashboard's tests on a real Redis share one <see cref="RedisServerFixture"/>.</summary>
[CollectionDefinition(RedisServerFixture.CollectionName)]
public sealed class RedisCollection : ICollectionFixture<RedisServerFixture>;
