using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.RateLimiting;

/// <summary>The store contract on a single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreContractTests(RedisServerFixture redis) : RedisStoreContractTestsBase(redis.CreateMultiplexer);

/// <summary>The store contract on a single Redis node with every acquire sent through the batch script.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisRateLimitStoreBatchedContractTests(RedisServerFixture redis) : RedisStoreContractTestsBase(redis.CreateMultiplexer)
{
    protected override bool BatchEveryAcquire => true;
}

/// <summary>
/// The store contract, run against real Redis with the client clock, each test under its own key prefix. After each
/// test every key it wrote must carry a TTL within its window plus a segment and the grace.
/// </summary>
public abstract class RedisStoreContractTestsBase(Func<ConnectionMultiplexer> connect) : RateLimitStoreContractTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _multiplexer;

    public Task InitializeAsync()
    {
        _multiplexer = connect();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        (IReadOnlyList<string> violations, _) = await RedisKeyTtlAssertions.FindViolationsAsync(
            _multiplexer!, _prefix, RedisRateLimitStore.ExpiryGraceMilliseconds);
        violations.Should().BeEmpty();
        await _multiplexer!.DisposeAsync();
    }

    /// <summary>Whether every acquire goes through the batch script, even alone.</summary>
    protected virtual bool BatchEveryAcquire => false;

    protected override IRateLimitStore CreateStore(FakeTimeProvider timeProvider)
        => RedisStoreTestBase.CreateStore(_multiplexer!, _prefix, timeProvider, batchEveryAcquire: BatchEveryAcquire);
}
