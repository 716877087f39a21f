using EmailGuard.Redis.Tests.Status;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A tenant pool's own status on a three-master Redis Cluster: the pool's counters (partition <c>pool:&lt;name&gt;</c>)
/// hash to other slots than its tenants', the global counter's and the flags', and its usage, flags and ratios read the same.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterTenantPoolStatusTests(RedisClusterFixture cluster) : RedisTenantPoolStatusTestsBase(cluster.CreateMultiplexer);
