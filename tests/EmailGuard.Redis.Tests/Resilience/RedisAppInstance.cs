using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Resilience;

/// <summary>
/// One simulated app instance, wired as an app would be (<c>AddEmailGuard().AddRedisStore(...)</c>), with its own
/// multiplexer. The multiplexer reconnects on its own (<c>AbortOnConnectFail = false</c>) and quickly (short connect
/// timeout, linear retry), but keeps the long default command timeout, so only EmailGuard's timeout can cut a wait.
/// </summary>
internal sealed class RedisAppInstance : IAsyncDisposable
{
    private readonly ServiceProvider _provider;

    private RedisAppInstance(ServiceProvider provider)
    {
        _provider = provider;
        Resilient = provider.GetRequiredService<ResilientRateLimitStore>();
    }

    public ResilientRateLimitStore Resilient { get; }

    /// <summary>The instance's services, for tests that look inside (its Redis store, collected logs).</summary>
    public IServiceProvider Services => _provider;

    /// <param name="configuration">A fresh configuration from the fixture (one server or a cluster); it is changed here.</param>
    /// <param name="prefix">The test's key prefix.</param>
    /// <param name="configure">Changes to the resilience options the fault tests share.</param>
    /// <param name="configureServices">Registrations made before EmailGuard's own (a clock, a log collector).</param>
    /// <param name="configureStore">Changes to the Redis store's options.</param>
    public static RedisAppInstance Create(
        ConfigurationOptions configuration,
        string prefix,
        Action<StoreResilienceOptions>? configure = null,
        Action<IServiceCollection>? configureServices = null,
        Action<RedisRateLimitStoreOptions>? configureStore = null)
    {
        configuration.AbortOnConnectFail = false;
        configuration.ConnectTimeout = 500;
        configuration.ReconnectRetryPolicy = new LinearRetry(200);

        ServiceCollection services = new();
        services.AddLogging();
        configureServices?.Invoke(services);
        services.AddEmailGuard().AddRedisStore(o =>
        {
            o.ConfigurationOptions = configuration;
            o.KeyPrefix = prefix;
            configureStore?.Invoke(o);
        });
        services.Configure<StoreResilienceOptions>(o =>
        {
            o.Timeout = TimeSpan.FromMilliseconds(250);
            o.BreakDuration = TimeSpan.FromSeconds(1);
            o.InstanceCount = 2;
            configure?.Invoke(o);
        });
        return new RedisAppInstance(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
    }

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}
