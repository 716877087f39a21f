using System.Diagnostics.Metrics;
using System.Net.Http;
using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the provider feedback webhooks (SES, Mailgun, SendGrid, Postmark) to an <see cref="IEmailGuardBuilder"/>.</summary>
public static class EmailGuardWebhookBuilderExtensions
{
    /// <summary>
    /// Adds what <c>app.MapEmailGuardFeedback(...)</c> needs. Options bind from the <c>EmailGuard:Webhooks</c>
    /// configuration section and are validated when the app starts: an enabled provider without its secret fails
    /// startup with the setting's path. Events are recorded through the registered <see cref="IEmailGuardFeedback"/>.
    /// Safe to call more than once.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddEmailGuard()</c>.</param>
    /// <param name="configure">Sets options in code, e.g. <c>o.Mailgun.Enabled = true</c>; runs after configuration.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddFeedbackWebhooks(this IEmailGuardBuilder builder, Action<EmailGuardWebhookOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(WebhookMetrics)))
        {
            services.AddSingleton(sp => new WebhookMetrics(sp.GetService<IMeterFactory>()));
            services.AddOptions<EmailGuardWebhookOptions>().ValidateOnStart();
            EmailGuardConfigurationSections.Bind<EmailGuardWebhookOptions>(services, "Webhooks");
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardWebhookOptions>, EmailGuardWebhookOptionsValidator>());

            // A redirect could lead away from the SNS host that was checked, so the client never follows one.
            services.AddHttpClient(EmailGuardWebhookOptions.SnsHttpClientName)
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
            services.TryAddSingleton(CreateCertificates);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SnsCertificateWarmUp>());
            services.TryAddSingleton(CreateEndpoints);
            services.TryAddSingleton<WebhookMapping>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WebhookMappingCheck>());
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    private static SnsCertificateCache CreateCertificates(IServiceProvider services)
    {
        SesWebhookOptions ses = services.GetRequiredService<IOptions<EmailGuardWebhookOptions>>().Value.Ses;
        TimeProvider time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        ILogger logger = (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("EmailGuard.AspNetCore.Feedback");

        // The key-value store tells a fresh instance which certificates the others verified: shared by every instance on Redis.
        SnsVerifiedCertificates? shared = services.GetService<IEmailGuardKeyValueStore>() is { } store
            ? new SnsVerifiedCertificates(store, services.GetRequiredService<IOptions<StoreResilienceOptions>>().Value.Timeout, ses.CertificateCacheLifetime, time, logger)
            : null;
        return new SnsCertificateCache(services.GetRequiredService<IHttpClientFactory>(), ses, time, shared);
    }

    private static WebhookEndpoints CreateEndpoints(IServiceProvider services)
    {
        EmailGuardWebhookOptions options = services.GetRequiredService<IOptions<EmailGuardWebhookOptions>>().Value;
        IEmailGuardFeedback feedback = services.GetService<IEmailGuardFeedback>() ?? throw new InvalidOperationException(
            "The feedback webhooks record events through IEmailGuardFeedback, and none is registered. Add EmailGuard's " +
            "feedback recording to 'services.AddEmailGuard()' in the application startup code.");
        TimeProvider time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        ILoggerFactory loggers = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        ILogger logger = loggers.CreateLogger("EmailGuard.AspNetCore.Feedback");
        WebhookMetrics metrics = services.GetRequiredService<WebhookMetrics>();
        IHttpClientFactory clients = services.GetRequiredService<IHttpClientFactory>();

        List<WebhookProvider> providers = [];
        if (options.Ses.Enabled)
        {
            providers.Add(new SesWebhookProvider(options.Ses, services.GetRequiredService<SnsCertificateCache>(), clients, time, logger));
        }

        if (options.Mailgun.Enabled)
        {
            // The key-value store is the one memory of seen tokens: shared by every instance on Redis.
            providers.Add(new MailgunWebhookProvider(
                options.Mailgun,
                time,
                services.GetRequiredService<IEmailGuardKeyValueStore>(),
                services.GetRequiredService<IOptions<StoreResilienceOptions>>().Value.Timeout));
        }

        if (options.SendGrid.Enabled)
        {
            providers.Add(new SendGridWebhookProvider(options.SendGrid, time));
        }

        if (options.Postmark.Enabled)
        {
            providers.Add(new PostmarkWebhookProvider(options.Postmark, time));
        }

        return new WebhookEndpoints([.. providers.Select(p => new WebhookEndpoint(p, feedback, options.MaxBodyBytes, metrics, logger))]);
    }
}
