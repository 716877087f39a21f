using System.Diagnostics.Metrics;
using EmailGuard;
using EmailGuard.AspNetCore;
using EmailGuard.Dashboard;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the dashboard's recent-activity record and the alerts to an <see cref="IEmailGuardBuilder"/>.</summary>
public static class EmailGuardDashboardBuilderExtensions
{
    /// <summary>How many parties each sketch tracks per dimension and 5-minute bucket.</summary>
    internal const int SketchCapacity = 64;

    /// <summary>
    /// Adds what <c>app.MapEmailGuardDashboard(...)</c> needs: the in-memory record of this instance's recent activity
    /// (fed from <see cref="SendGuardOptions.Events"/>, after the app's own callbacks), the store-outage watch and
    /// anti-forgery. Safe to call more than once.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddEmailGuard()</c>.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddDashboard(this IEmailGuardBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddMonitor(builder.Services);
        builder.Services.AddAntiforgery();
        builder.Services.TryAddSingleton<DashboardMarker>();
        return builder;
    }

    /// <summary>
    /// Adds alerts to a Slack incoming webhook and to a generic JSON webhook signed with HMAC-SHA256, on limit spikes,
    /// global caps near their limit, flags and suspensions, and store outages and recoveries. Options bind from the
    /// <c>EmailGuard:Alerts</c> configuration section and are validated when the app starts. Alerts are deduplicated per
    /// condition and sent in the background; raise your own with <see cref="IEmailGuardAlerts"/>. Safe to call more than once.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddEmailGuard()</c>.</param>
    /// <param name="configure">Sets options in code, applied after the configuration section.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddAlerts(this IEmailGuardBuilder builder, Action<EmailGuardAlertOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(AlertPublisher)))
        {
            AddMonitor(services);
            EmailGuardConfigurationSections.Bind<EmailGuardAlertOptions>(services, EmailGuardAlertOptions.SectionKey);
            services.AddOptions<EmailGuardAlertOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardAlertOptions>, EmailGuardAlertOptionsValidator>());
            services.AddSingleton(sp => new AlertMetrics(sp.GetService<IMeterFactory>()));
            services.AddSingleton<AlertPublisher>();
            services.AddSingleton<IEmailGuardAlerts>(sp => sp.GetRequiredService<AlertPublisher>());
            services.AddSingleton<IEmailGuardObserver, AlertRules>();
            services.AddSingleton(sp => new AlertClaims(
                sp.GetRequiredService<IEmailGuardKeyValueStore>(),
                sp.GetRequiredService<IOptions<EmailGuardAlertOptions>>(),
                sp.GetRequiredService<IOptions<StoreResilienceOptions>>(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<ILogger<AlertClaims>>()));
            // No request logging and no request traces: a Slack incoming-webhook URL carries its secret in the path, the
            // factory's default handlers log every request's URL at Information, and HttpClient traces it (url.full).
            services.AddHttpClient(AlertDispatcher.HttpClientName).RemoveAllLoggers()
                .ConfigurePrimaryHttpMessageHandler(static (handler, _) => Configure(handler));
            services.AddHostedService(sp => new AlertDispatcher(
                sp.GetRequiredService<AlertPublisher>(),
                sp.GetRequiredService<AlertClaims>(),
                sp.GetRequiredService<IHttpClientFactory>(),
                sp.GetRequiredService<IOptions<EmailGuardAlertOptions>>(),
                sp.GetService<IHostEnvironment>(),
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<AlertMetrics>(),
                sp.GetRequiredService<ILogger<AlertDispatcher>>()));
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return builder;
    }

    /// <summary>
    /// Alerts go to the configured URL only: a receiver's 307 or 308 would resend the signed alert, headers and body, to
    /// any host it names, and a 302 would make this app fetch an address of the receiver's choosing. A redirect is
    /// answered as the failure it is. And the URL stays out of the app's traces: HttpClient's diagnostics (the
    /// <c>System.Net.Http</c> activity, with the full URL as <c>url.full</c>, and the diagnostic listener APM agents read)
    /// carried a Slack webhook's secret path to whatever exports traces, and the app's trace context (<c>traceparent</c>)
    /// to the receiver. Without a propagator the handler creates neither.
    /// </summary>
    private static void Configure(HttpMessageHandler handler)
    {
        switch (handler)
        {
            case SocketsHttpHandler sockets:
                sockets.AllowAutoRedirect = false;
                sockets.ActivityHeadersPropagator = null;
                break;
            case HttpClientHandler client:
                client.AllowAutoRedirect = false;
                break;
        }
    }

    /// <summary>
    /// The monitor for the options hooks, or null when a setting of what it is built from (the alerts, the store) is
    /// invalid: that setting fails the start by its own validation, which a throw from inside another section's options
    /// would hide behind a second copy of it.
    /// </summary>
    private static EmailGuardMonitor? MonitorOrNull(IServiceProvider services)
    {
        try
        {
            return services.GetRequiredService<EmailGuardMonitor>();
        }
        catch (OptionsValidationException)
        {
            return null;
        }
    }

    private static void AddMonitor(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(EmailGuardMonitor)))
        {
            return;
        }

        services.TryAddSingleton<DashboardEventLog>();
        services.AddSingleton(sp => new EmailGuardMonitor(
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetServices<IEmailGuardObserver>(),
            sp.GetRequiredService<DashboardEventLog>(),
            sp.GetRequiredService<ILogger<EmailGuardMonitor>>(),
            sp.GetService<IMeterFactory>(),
            SketchCapacity));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<SendGuardOptions>, HookSendGuardEvents>(sp => new HookSendGuardEvents(() => MonitorOrNull(sp))));
        services.TryAddSingleton(sp => new HookBreakerEvents(() => MonitorOrNull(sp)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<EmailRatioBreakerOptions>, HookBreakerEvents>(sp => sp.GetRequiredService<HookBreakerEvents>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<EmailFeedbackOptions>, HookBreakerEvents>(sp => sp.GetRequiredService<HookBreakerEvents>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<EmailGuardEndpointOptions>, HookBreakerEvents>(sp => sp.GetRequiredService<HookBreakerEvents>()));

        // The store watch listens from startup, before the first request resolves the guard.
        services.AddHostedService(sp => new MonitorStarter(sp.GetRequiredService<EmailGuardMonitor>()));

        // Every instance publishes its recent activity to the store, so that each dashboard shows all of them.
        services.TryAddSingleton(sp => new ActivityExchange(
            sp.GetRequiredService<IEmailGuardKeyValueStore>(),
            sp.GetRequiredService<EmailGuardMonitor>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<IOptions<StoreResilienceOptions>>(),
            sp.GetRequiredService<ILogger<ActivityExchange>>()));
        services.AddHostedService(sp => new ActivityPublisher(sp.GetRequiredService<ActivityExchange>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
    }
}
