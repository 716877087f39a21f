using EmailGuard.Redis.Tests.Feedback;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The ratio breakers' circuit across two instances on a three-master Redis Cluster, every test of
/// <see cref="RedisRatioBreakerTestsBase"/>: a trip on one instance, the probe on the other, the send-time mappings that
/// date a bounce, the early-clear memory and the escalation memory, each on whichever master its key hashes to.
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterRatioBreakerTests(RedisClusterFixture cluster) : RedisRatioBreakerTestsBase(cluster.CreateMultiplexer);
