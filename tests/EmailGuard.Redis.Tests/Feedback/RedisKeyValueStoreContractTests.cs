using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Feedback;

/// <summary>The key-value store contract on a single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisKeyValueStoreContractTests(RedisServerFixture redis) : RedisKeyValueStoreContractTestsBase(redis.CreateMultiplexer);

/// <summary>The key-value store contract on a Redis Cluster, where each key carries its own hash tag.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterKeyValueStoreContractTests(RedisClusterFixture cluster) : RedisKeyValueStoreContractTestsBase(cluster.CreateMultiplexer);

/// <summary>
/// The key-value store contract against real Redis, each test under its own key prefix; after each test no key of the
/// prefix is left without a TTL.
/// </summary>
public abstract class RedisKeyValueStoreContractTestsBase(Func<ConnectionMultiplexer> connect) : KeyValueStoreContractTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ConnectionMultiplexer? _multiplexer;
    private RedisConnection? _connection;

    public Task InitializeAsync()
    {
        _multiplexer = connect();
        _connection = new RedisConnection(_multiplexer, _prefix);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)> keys = await RedisServerFixture.ScanWithTtlAsync(_multiplexer!, _prefix);
        keys.Where(k => k.Ttl == null).Should().BeEmpty("every value is written with its TTL");
        _connection!.Dispose();
        await _multiplexer!.DisposeAsync();
    }

    protected override IEmailGuardKeyValueStore CreateStore(FakeTimeProvider timeProvider) => new RedisKeyValueStore(_connection!);
}
