using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>The reservation contract on a single Redis node, client clock; every key it writes keeps its TTL bound.</summary>
[Collection(RedisServerFixture.CollectionName)]
public class RedisReservationContractTests(RedisServerFixture redis) : ReservationContractTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _multiplexer;

    public Task InitializeAsync()
    {
        _multiplexer = redis.CreateMultiplexer();
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
