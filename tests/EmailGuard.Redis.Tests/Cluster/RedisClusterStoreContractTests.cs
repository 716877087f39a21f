using EmailGuard.Redis.Tests.RateLimiting;
using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Cluster;

/// <summary>
/// The whole store contract on a three-master Redis Cluster. Multi-key tests put their keys in different slots, so the
/// slot-by-slot path must give the same answers as one script on one node (and as the in-memory store).
/// </summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStoreContractTests(RedisClusterFixture cluster) : RateLimitStoreContractTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _multiplexer;

    public Task InitializeAsync()
    {
        _multiplexer = cluster.CreateMultiplexer();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            _multiplexer!, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
        await _multiplexer!.DisposeAsync();
    }

    protected override IRateLimitStore CreateStore(FakeTimeProvider timeProvider)
        => RedisStoreTestBase.CreateStore(_multiplexer!, _prefix, timeProvider);
}
