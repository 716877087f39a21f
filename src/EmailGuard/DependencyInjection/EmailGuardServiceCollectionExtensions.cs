using System.Diagnostics.Metrics;
using EmailGuard;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers EmailGuard in an <see cref="IServiceCollection"/>.
/// </summary>
public static class EmailGuardServiceCollectionExtensions
{
    /// <summary>The configuration section EmailGuard binds its options from.</summary>
    public const string ConfigurationSectionName = "EmailGuard";

    /// <summary>
    /// Adds EmailGuard with the in-memory store, binding options from the <c>EmailGuard</c> configuration section when
    /// an <see cref="IConfiguration"/> is registered. Safe to call more than once.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>A builder to add a store or endpoint policies to.</returns>
    public static IEmailGuardBuilder AddEmailGuard(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);

        if (services.Any(d => d.ServiceType == typeof(EmailGuardMarkerService)))
        {
            return new EmailGuardBuilder(services);
        }

        services.AddSingleton<EmailGuardMarkerService>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<EmailGuardSectionsCheck>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardSectionsCheck>, EmailGuardSectionsValidator>());

        services.AddOptions<InMemoryRateLimitStoreOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<InMemoryRateLimitStoreOptions>, InMemoryRateLimitStoreOptionsValidator>());
        EmailGuardConfigurationSections.Bind<InMemoryRateLimitStoreOptions>(services, "InMemoryStore");

        services.TryAddSingleton<IRateLimitStore>(sp => new InMemoryRateLimitStore(
            sp.GetRequiredService<IOptions<InMemoryRateLimitStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<InMemoryRateLimitStore>>(),
            sp.GetRequiredService<EmailGuardMetrics>()));

        services.AddOptions<StoreResilienceOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StoreResilienceOptions>, StoreResilienceOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StoreResilienceOptions>, StoreResilienceInstanceValidator>());
        EmailGuardConfigurationSections.Bind<StoreResilienceOptions>(services, "Resilience");
        services.TryAddSingleton(sp => new EmailGuardMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new ResilientRateLimitStore(
            sp.GetRequiredService<IRateLimitStore>(),
            sp.GetRequiredService<IOptions<StoreResilienceOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<ResilientRateLimitStore>>(),
            sp.GetRequiredService<EmailGuardMetrics>(),
            sp.GetRequiredService<IOptions<InMemoryRateLimitStoreOptions>>().Value));
        FeedbackRegistration.Register(services);

        return new EmailGuardBuilder(services);
    }

    /// <summary>
    /// Adds EmailGuard (see <see cref="AddEmailGuard(IServiceCollection)"/>) and configures the in-memory store.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configureInMemoryStore">Configures the in-memory store.</param>
    /// <returns>A builder to add a store or endpoint policies to.</returns>
    public static IEmailGuardBuilder AddEmailGuard(this IServiceCollection services, Action<InMemoryRateLimitStoreOptions> configureInMemoryStore)
    {
        ArgumentNullException.ThrowIfNull(configureInMemoryStore);
        IEmailGuardBuilder builder = services.AddEmailGuard();
        ConfigureOnce.Configure(services, configureInMemoryStore);
        return builder;
    }
}
