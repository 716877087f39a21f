using EmailGuard.Testing.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A test class on the fault tests' cluster, which earlier tests pause, move slots on or fail over: as
/// <see cref="RedisClusterTestBase"/>, but each test starts once the cluster is healthy again, and the closing TTL scan
/// goes through a connection of its own, since the admin connection's slot map may be stale by then.
/// </summary>
public abstract class RedisFaultClusterTestBase(RedisFaultClusterFixture cluster) : RedisClusterTestBase(cluster)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Cluster.WaitForHealthyAsync();
    }

    public override async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Cluster.CreateMultiplexer(), Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty("every key on every master must expire within its window plus a segment and the grace");
    }
}
