using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Cluster fault tests kill and restart masters, so they get a cluster of their own: the other cluster tests keep
/// running on the shared one, undisturbed. They also run alone, after the parallel collections: what they measure
/// (failure detection, recovery within a bound, reservations settling) depends on the cluster's own timers, which a
/// CPU shared with a few hundred load tests on two cores stretches past any honest bound.
/// </summary>
[CollectionDefinition(RedisFaultClusterFixture.CollectionName, DisableParallelization = true)]
public sealed class RedisClusterFaultCollection : ICollectionFixture<RedisFaultClusterFixture>;
