using EmailGuard.Testing.Redis;
using EmailGuard.Testing.Status;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Status;

/// <summary>
/// A tenant pool's own status on a Redis-protocol server: its counters, flags and feedback counts are the shared ones.
/// Run on Redis, on Garnet (<c>GarnetSuites.cs</c>) and on a Redis Cluster, where the pool's keys hash to other slots
/// than its tenants'.
/// </summary>
public abstract class RedisTenantPoolStatusTestsBase(Func<ConnectionMultiplexer> connect) : TenantPoolStatusScenarioTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private ServiceProvider? _instance;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }
    }

    protected override IServiceProvider CreateInstance(Action<IServiceCollection> configure, Action<SendGuardOptions> guard)
    {
        ConnectionMultiplexer multiplexer = connect();
        ServiceCollection services = new();
        configure(services);
        services.AddEmailGuard()
            .AddRedisStore(o =>
            {
                o.KeyPrefix = _prefix;
                o.UseServerTime = false;
                o.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
            })
            .AddSendGuard(guard);
        _instance = services.BuildServiceProvider();
        return _instance;
    }
}

/// <summary>A tenant pool's own status on Redis.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisTenantPoolStatusTests(RedisServerFixture redis) : RedisTenantPoolStatusTestsBase(redis.CreateMultiplexer);
