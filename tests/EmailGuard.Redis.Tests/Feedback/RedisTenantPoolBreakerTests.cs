using EmailGuard.Testing.Breakers;
using EmailGuard.Testing.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Feedback;

/// <summary>
/// The tenant pool's ratio breaker across two app instances sharing one server, each with its own connection: the pool's
/// counts, flags, probe and escalation memory are the shared ones, and bursts of bounces and checks spread over both
/// (the hostile tests) trip the pool once and admit its probe up to the cap.
/// </summary>
public abstract class RedisTenantPoolBreakerTestsBase(Func<ConnectionMultiplexer> connect) : TenantPoolBreakerScenarioTests, IAsyncLifetime
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix();
    private readonly List<ServiceProvider> _instances = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ServiceProvider instance in _instances)
        {
            await instance.DisposeAsync();
        }
    }

    protected override IServiceProvider CreateInstance(int index, Action<IServiceCollection> configure, Action<SendGuardOptions> guard)
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
        ServiceProvider provider = services.BuildServiceProvider();
        _instances.Add(provider);
        return provider;
    }
}

/// <summary>The tenant pool's ratio breaker, and under attack, on Redis.</summary>
[Collection(RedisServerFixture.CollectionName)]
public sealed class RedisTenantPoolBreakerTests(RedisServerFixture redis) : RedisTenantPoolBreakerTestsBase(redis.CreateMultiplexer);
