using System.Diagnostics.Metrics;
using EmailGuard;
using EmailGuard.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Puts EmailGuard's rate-limit counters in Redis.
/// </summary>
public static class EmailGuardRedisBuilderExtensions
{
    /// <summary>The configuration section the Redis store's options are bound from: <c>EmailGuard:Redis</c>.</summary>
    public const string ConfigurationSectionName = EmailGuardServiceCollectionExtensions.ConfigurationSectionName + ":Redis";

    /// <summary>
    /// Replaces the in-memory store with the Redis store, with every option bound from the
    /// <c>EmailGuard:Redis</c> configuration section (for example <c>"EmailGuard:Redis:Configuration": "localhost:6379"</c>).
    /// The options are validated when the app starts.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddRedisStore(this IEmailGuardBuilder builder) => builder.AddRedisStore(static _ => { });

    /// <summary>
    /// Replaces the in-memory store with the Redis store, so that every app instance shares the counters. The options
    /// are bound from the <c>EmailGuard:Redis</c> configuration section first, then <paramref name="configure"/> runs,
    /// so code wins over configuration. They are validated when the app starts: a missing connection or an invalid key
    /// prefix fails startup with a message that names the setting. Safe to call more than once: the store is registered
    /// once, and every <paramref name="configure"/> applies (the same delegate once).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <param name="configure">
    /// Sets the connection (<see cref="RedisRateLimitStoreOptions.Configuration"/>, for example <c>"localhost:6379"</c>)
    /// and other options. Leave the connection unset to reuse the <see cref="IConnectionMultiplexer"/> registered in
    /// the service collection.
    /// </param>
    /// <returns>The builder, for chaining.</returns>
    public static IEmailGuardBuilder AddRedisStore(this IEmailGuardBuilder builder, Action<RedisRateLimitStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);

        IServiceCollection services = builder.Services;
        // Configuration is bound once, however often AddRedisStore is called, and always before any code configure.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<RedisRateLimitStoreOptions>, RedisOptionsFromConfiguration>());
        services.AddOptions<RedisRateLimitStoreOptions>().ValidateOnStart();
        services.TryAddTransient<IOptionsFactory<RedisRateLimitStoreOptions>, StrictOptionsFactory<RedisRateLimitStoreOptions>>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRateLimitStoreOptions>, StrictBindingValidation<RedisRateLimitStoreOptions>>());
        ConfigureOnce.Configure(services, configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRateLimitStoreOptions>, RedisRateLimitStoreOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRateLimitStoreOptions>, RedisConnectionSourceValidator>(
            sp => new RedisConnectionSourceValidator(sp.GetService<IServiceProviderIsService>())));

        services.TryAddSingleton(sp => new RedisConnection(
            sp.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value,
            sp.GetService<IServiceProviderIsService>()?.IsService(typeof(IConnectionMultiplexer)) == true
                ? sp.GetService<IConnectionMultiplexer>
                : null,
            sp.GetService<ILogger<RedisConnection>>(),
            sp.GetService<TimeProvider>()));
        builder.AddRateLimitStore(sp => new RedisRateLimitStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RedisRateLimitStore>>(),
            sp.GetService<IOptions<StoreResilienceOptions>>()?.Value.Timeout,
            sp.GetService<IMeterFactory>()));
        builder.AddStateStore(sp => new RedisEmailGuardStateStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<IOptions<StoreResilienceOptions>>()?.Value.Timeout,
            sp.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value,
            sp.GetService<ILogger<RedisEmailGuardStateStore>>(),
            sp.GetService<IMeterFactory>()));
        builder.AddKeyValueStore(sp => new RedisKeyValueStore(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RedisKeyValueStore>>(),
            sp.GetService<IOptions<StoreResilienceOptions>>()?.Value.Timeout));
        services.TryAddSingleton(sp => new RedisPrimaryInfoReader(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStoreConfigurationCheck, RedisEvictionPolicyCheck>(sp => new RedisEvictionPolicyCheck(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RedisEvictionPolicyCheck>>(),
            sp.GetRequiredService<RedisPrimaryInfoReader>())));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStoreConfigurationCheck, RedisServerCompatibilityCheck>(sp => new RedisServerCompatibilityCheck(
            sp.GetRequiredService<RedisConnection>(),
            sp.GetRequiredService<IOptions<RedisRateLimitStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RedisServerCompatibilityCheck>>(),
            sp.GetRequiredService<RedisPrimaryInfoReader>())));
        return builder;
    }
}
