namespace EmailGuard.Testing.Redis;

/// <summary>
/// Three masters with one replica each, for the failover tests, which kill masters and promote their replicas: a
/// cluster of their own. <c>cluster-require-full-coverage no</c>, so that a dead master takes down only its own slots
/// until its replica takes over.
/// </summary>
public sealed class RedisFailoverClusterFixture : RedisClusterFixture
{
    /// <summary>Creates the fixture.</summary>
    public RedisFailoverClusterFixture()
        : base(nodeTimeoutMilliseconds: 2000, requireFullCoverage: false, replicasPerMaster: 1)
    {
    }
}
