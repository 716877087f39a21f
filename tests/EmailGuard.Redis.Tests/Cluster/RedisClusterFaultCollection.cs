using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// Cluster fault tests kill and restart masters, so they get a cluster of their own: the other cluster tests keep
/// running on the shared one, undisturbed.
/// </summary>
[CollectionDefinition(RedisFaultClusterFixture.CollectionName)]
public sealed class RedisClusterFaultCollection : ICollectionFixture<RedisFaultClusterFixture>;
