using System.Diagnostics.Metrics;
using EmailGuard;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the send guard to EmailGuard.</summary>
public static class SendGuardEmailGuardBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="IEmailSendGuard"/>, <see cref="IEmailGuardLists"/>, <see cref="IEmailGuardFlags"/> and
    /// <see cref="IEmailGuardTenantLimits"/>, binding
    /// <see cref="SendGuardOptions"/> from the <c>EmailGuard:SendGuard</c> configuration section (when configuration is
    /// registered) and then applying <paramref name="configure"/>. The options are validated at startup. Safe to call
    /// more than once; every <paramref name="configure"/> applies (the same delegate once).
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddEmailGuard()</c>.</param>
    /// <param name="configure">Configures the rules, e.g. <c>o =&gt; o.Tenant.Add(RateLimitRule.PerHour(100))</c>.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddSendGuard(this IEmailGuardBuilder builder, Action<SendGuardOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(SendGuardMarkerService)))
        {
            services.AddSingleton<SendGuardMarkerService>();
            services.AddOptions<SendGuardOptions>().ValidateOnStart();
            EmailGuardConfigurationSections.Bind<SendGuardOptions>(services, SendGuardOptions.SectionKey);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SendGuardOptions>, SendGuardOptionsDataValidator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SendGuardOptions>, SendGuardOptionsValidator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SendGuardOptions>, SendGuardCapacityValidator>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SendGuardOptions>, TenantLimitCacheDurationValidator>());

            services.TryAddSingleton<IEmailGuardStateStore>(sp => new InMemoryEmailGuardStateStore(sp.GetRequiredService<TimeProvider>()));
            services.TryAddSingleton(sp => new GuardStateCache(
                sp.GetRequiredService<IEmailGuardStateStore>(),
                sp.GetRequiredService<IOptions<SendGuardOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ILogger<GuardStateCache>>(),
                sp.GetRequiredService<IOptions<StoreResilienceOptions>>().Value,
                sp.GetService<IMeterFactory>()));
            services.TryAddSingleton(sp => new EmailSendGuard(
                sp.GetRequiredService<IOptions<SendGuardOptions>>(),
                sp.GetRequiredService<ResilientRateLimitStore>(),
                sp.GetRequiredService<GuardStateCache>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ITenantLimitProvider>(),
                sp.GetService<ILogger<EmailSendGuard>>(),
                sp.GetService<EmailGuardMetrics>(),
                sp.GetRequiredService<IOptionsFactory<SendGuardOptions>>(),
                sp.GetService<IConfiguration>())
            {
                Sends = sp.GetService<EmailGuardFeedback>(),
                TagSigner = FeedbackTagSigner.Create(sp.GetService<IOptions<EmailFeedbackOptions>>()?.Value.TagSigningKeys),
                ContentInspector = sp.GetService<IEmailContentInspector>(),
                Flags = sp.GetService<IEmailGuardFlags>(),
                Recipients = sp.GetService<IEmailGuardKeyValueStore>(),
                ActiveTenants = sp.GetService<IEmailGuardKeyValueStore>(),
            });
            services.TryAddSingleton<IEmailSendGuard>(sp => sp.GetRequiredService<EmailSendGuard>());
            services.TryAddSingleton<IEmailSendGuardCaps>(sp => sp.GetRequiredService<EmailSendGuard>());
            services.TryAddSingleton<IEmailGuardLists>(sp => new EmailGuardLists(
                sp.GetRequiredService<GuardStateCache>(),
                sp.GetRequiredService<IOptions<SendGuardOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ILogger<EmailGuardLists>>()));
            services.TryAddSingleton<IEmailGuardTenantLimits>(sp => new EmailGuardTenantLimits(
                sp.GetRequiredService<EmailSendGuard>(),
                sp.GetRequiredService<GuardStateCache>(),
                sp.GetService<ILogger<EmailGuardTenantLimits>>()));
            services.TryAddSingleton<IEmailGuardFlags>(sp => new EmailGuardFlags(
                sp.GetRequiredService<GuardStateCache>(),
                sp.GetRequiredService<IOptions<SendGuardOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetService<ILogger<EmailGuardFlags>>()));
        }

        if (configure is not null)
        {
            ConfigureOnce.Configure(services, configure);
        }

        return builder;
    }

    /// <summary>
    /// Registers the application's <see cref="ITenantLimitProvider"/> as a singleton. Its answers are cached for
    /// <see cref="SendGuardOptions.TenantLimitCacheDuration"/>; to query a scoped <c>DbContext</c>, create a scope inside it.
    /// After changing a tenant's limits, call <see cref="IEmailGuardTenantLimits.InvalidateAsync"/> to apply them at once.
    /// </summary>
    /// <typeparam name="TProvider">The provider type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddTenantLimitProvider<TProvider>(this IEmailGuardBuilder builder)
        where TProvider : class, ITenantLimitProvider
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<ITenantLimitProvider, TProvider>());
        return builder;
    }

    /// <summary>
    /// Registers the application's <see cref="IEmailContentInspector"/> as a singleton: the send guard then hands it
    /// the content of every admitted message that carries <see cref="OutboundEmail.Content"/>, within
    /// <see cref="SendGuardOptions.ContentInspection"/>'s time budget. Adds the send guard if needed.
    /// </summary>
    /// <typeparam name="TInspector">The inspector type.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddContentInspector<TInspector>(this IEmailGuardBuilder builder)
        where TInspector : class, IEmailContentInspector
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddSendGuard();
        builder.Services.Replace(ServiceDescriptor.Singleton<IEmailContentInspector, TInspector>());
        return builder;
    }

    /// <summary>
    /// Adds <see cref="IGuardedEmailSender"/>, which checks every message with the send guard before handing it to the
    /// registered <see cref="IEmailTransport"/>, and refunds when the transport throws. Adds the send guard if needed.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddGuardedEmailSender(this IEmailGuardBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddSendGuard();
        builder.Services.TryAddTransient<IGuardedEmailSender>(sp => new GuardedEmailSender(
            sp.GetRequiredService<IEmailSendGuard>(),
            sp.GetService<IEmailTransport>() ?? throw new InvalidOperationException(
                "IGuardedEmailSender needs an IEmailTransport: register yours, e.g. services.AddSingleton<IEmailTransport, SesTransport>(), or call AddGuardedEmailSender<TTransport>()."),
            sp.GetService<IEmailGuardFeedback>()));
        return builder;
    }

    /// <summary>
    /// Registers <typeparamref name="TTransport"/> as the <see cref="IEmailTransport"/> (singleton) and adds
    /// <see cref="IGuardedEmailSender"/> over it.
    /// </summary>
    /// <typeparam name="TTransport">The application's transport.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddGuardedEmailSender<TTransport>(this IEmailGuardBuilder builder)
        where TTransport : class, IEmailTransport
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<IEmailTransport, TTransport>();
        return builder.AddGuardedEmailSender();
    }
}
