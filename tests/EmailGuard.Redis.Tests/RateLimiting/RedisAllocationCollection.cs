using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>
/// The allocation tests count bytes for the whole process (an acquire's continuations run on pool threads), so they
/// run alone, after the parallel suites, on a redis-server of their own.
/// </summary>
[CollectionDefinition(RedisRateLimitStoreAllocationTests.Name, DisableParallelization = true)]
public sealed class RedisAllocationCollection : ICollectionFixture<RedisServerFixture>;
