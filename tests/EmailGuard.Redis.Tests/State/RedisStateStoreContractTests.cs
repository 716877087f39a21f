using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Stores;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.State;

/// <summary>The state store contract on a single Redis node.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisStateStoreContractTests(RedisServerFixture redis) : RedisStateStoreContractTestsBase(redis.CreateMultiplexer);

/// <summary>The state store contract on a Redis Cluster, where every state key shares one hash tag.</summary>
[Collection(RedisClusterFixture.CollectionName)]
public sealed class RedisClusterStateStoreContractTests(RedisClusterFixture cluster) : RedisStateStoreContractTestsBase(cluster.CreateMultiplexer);

/// <summary>
/// The state store contract against real Redis, each test under its own key prefix (so its own state); after each
/// test its keys are deleted, since the state store writes permanent entries by design.
/// </summary>
public abstract class RedisStateStoreContractTestsBase(Func<ConnectionMultiplexer> connect) : StateStoreContractTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<(ConnectionMultiplexer Multiplexer, RedisConnection Connection)> _others = [];
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
        if (keys.Count > 0)
        {
            await _multiplexer!.GetDatabase().KeyDeleteAsync([.. keys.Select(k => k.Key)]);
        }

        foreach ((ConnectionMultiplexer multiplexer, RedisConnection connection) in _others)
        {
            connection.Dispose();
            await multiplexer.DisposeAsync();
        }

        _connection!.Dispose();
        await _multiplexer!.DisposeAsync();
    }

    protected override IEmailGuardStateStore CreateStore(FakeTimeProvider timeProvider) => new RedisEmailGuardStateStore(_connection!, timeProvider);

    /// <summary>Another app instance: a multiplexer of its own on the same key prefix.</summary>
    protected override IEmailGuardStateStore CreateOtherInstance(IEmailGuardStateStore store, FakeTimeProvider timeProvider)
    {
        ConnectionMultiplexer multiplexer = connect();
        RedisConnection connection = new(multiplexer, _prefix);
        _others.Add((multiplexer, connection));
        return new RedisEmailGuardStateStore(connection, timeProvider);
    }
}
