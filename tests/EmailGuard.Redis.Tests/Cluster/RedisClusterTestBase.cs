using EmailGuard.Testing.Redis;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// A test class on the shared three-master cluster: its own key prefix, a fake clock, an admin connection, and at the
/// end a scan of every master that fails the test if any key under the prefix has no TTL or one past its window.
/// </summary>
public abstract class RedisClusterTestBase(RedisClusterFixture cluster) : IAsyncLifetime
{
    private protected string Prefix { get; } = RedisServerFixture.UniquePrefix();

    private protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, 123, TimeSpan.Zero));

    private protected ConnectionMultiplexer Admin { get; private set; } = null!;

    private protected RedisClusterFixture Cluster => cluster;

    public virtual Task InitializeAsync()
    {
        Admin = cluster.CreateMultiplexer();
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            Admin, Prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty("every key on every master must expire within its window plus a segment and the grace");
    }
}
