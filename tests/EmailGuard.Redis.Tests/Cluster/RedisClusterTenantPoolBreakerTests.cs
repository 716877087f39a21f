using EmailGuard.Redis.Tests.Feedback;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The tenant pool's ratio breaker on a Redis Cluster, every test of <see cref="RedisTenantPoolBreakerTestsBase"/>: the
/// pool's counts, flags, probe, escalation memory, send-time mappings and early-clear markers spread over the slots of
/// three masters, read by two instances with a connection each.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterTenantPoolBreakerTests(RedisClusterFixture cluster) : RedisTenantPoolBreakerTestsBase(cluster.CreateMultiplexer);
