namespace EmailGuard.Testing.Redis;

/// <summary>
/// A three-master cluster of its own for fault tests, which kill and restart masters. It runs as production should
/// with no replicas: <c>cluster-require-full-coverage no</c>, so that a dead master takes down only its own slots and
/// the other masters keep serving theirs (with the default <c>yes</c>, every slot refuses writes until it returns).
/// The node timeout is short (2 s) so that the cluster flags a killed master as failed, and clears the flag after it
/// rejoins, within seconds rather than the default's tens of seconds.
/// </summary>
public sealed class RedisFaultClusterFixture : RedisClusterFixture
{
    /// <summary>The name of the xunit collection of the cluster fault tests.</summary>
    public new const string CollectionName = "redis-cluster-faults";

    /// <summary>Creates the fixture.</summary>
    public RedisFaultClusterFixture()
        : base(nodeTimeoutMilliseconds: 2000, requireFullCoverage: false)
    {
    }
}
