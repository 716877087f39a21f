using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>Registers feedback recording with <c>AddEmailGuard()</c>: the options section, the key-value store and the recorder.</summary>
internal static class FeedbackRegistration
{
    public static void Register(IServiceCollection services)
    {
        services.AddOptions<EmailFeedbackOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailFeedbackOptions>, EmailFeedbackOptionsValidator>());
        EmailGuardConfigurationSections.Bind<EmailFeedbackOptions>(services, EmailFeedbackOptions.SectionKey);

        // AddKeyValueStore (and AddRedisStore through it) replaces this, before or after AddEmailGuard runs again.
        services.TryAddSingleton<IEmailGuardKeyValueStore>(sp => new InMemoryKeyValueStore(
            sp.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value.MaxInMemoryMappings,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<InMemoryKeyValueStore>>()));
        services.AddOptions<EmailRatioBreakerOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailRatioBreakerOptions>, EmailRatioBreakerOptionsValidator>());
        services.AddSingleton<IConfigureOptions<EmailRatioBreakerOptions>>(sp => new RiskyCategoriesFromConfiguration(sp.GetService<IConfiguration>()));
        EmailGuardConfigurationSections.Bind<EmailRatioBreakerOptions>(services, EmailRatioBreakerOptions.SectionKey);
        services.TryAddSingleton(sp => WithBreakers(sp, new EmailGuardFeedback(
            sp.GetRequiredService<ResilientRateLimitStore>(),
            new ResilientKeyValueStore(
                sp.GetRequiredService<IEmailGuardKeyValueStore>(),
                sp.GetRequiredService<IOptions<StoreResilienceOptions>>().Value,
                sp.GetRequiredService<TimeProvider>()),
            sp.GetService<IEmailGuardLists>(),
            sp.GetRequiredService<IOptions<EmailFeedbackOptions>>().Value,
            sp.GetRequiredService<IOptions<SendGuardOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<EmailGuardFeedback>>(),
            sp.GetRequiredService<EmailGuardMetrics>())));
        services.TryAddSingleton<IEmailGuardFeedback>(sp => sp.GetRequiredService<EmailGuardFeedback>());
        services.TryAddSingleton<IEmailFeedbackCounts>(sp => sp.GetRequiredService<EmailGuardFeedback>());
    }

    private static EmailGuardFeedback WithBreakers(IServiceProvider sp, EmailGuardFeedback feedback)
    {
        EmailRatioBreakerOptions options = sp.GetRequiredService<IOptions<EmailRatioBreakerOptions>>().Value;
        feedback.Breakers = new RatioBreaker(
            feedback,
            options,
            sp.GetService<IEmailGuardFlags>(),
            sp.GetService<IEmailGuardLists>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILogger<RatioBreaker>>(),
            sp.GetRequiredService<EmailGuardMetrics>(),
            sp.GetService<GuardStateCache>(),
            TenantPoolRules.Names(sp.GetRequiredService<IOptions<SendGuardOptions>>().Value),
            options.ExcludedTenantPools.Select(static name => name.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal));
        feedback.Observers = [.. sp.GetServices<IEmailFeedbackObserver>()];
        return feedback;
    }
}
