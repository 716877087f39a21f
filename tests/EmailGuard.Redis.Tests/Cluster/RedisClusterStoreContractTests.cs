using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The whole store contract on a three-master Redis Cluster. Multi-key tests put their keys in different slots, so the
/// slot-by-slot path must give the same answers as one script on one node (and as the in-memory store).
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreContractTests(RedisClusterFixture cluster) : RedisStoreContractTestsBase(cluster.CreateMultiplexer);

/// <summary>The store contract on the cluster with every acquire (every slot's share of one) sent through the batch script.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreBatchedContractTests(RedisClusterFixture cluster) : RedisStoreContractTestsBase(cluster.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}
