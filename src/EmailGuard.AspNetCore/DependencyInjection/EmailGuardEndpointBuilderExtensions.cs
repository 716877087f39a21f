using EmailGuard;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApplicationModels;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the EmailGuard endpoint middleware's policies to an <see cref="IEmailGuardBuilder"/>.</summary>
public static class EmailGuardEndpointBuilderExtensions
{
    /// <summary>
    /// Adds endpoint policies, path rules and allowlists for <c>app.UseEmailGuard()</c>. Options bind from the
    /// <c>EmailGuard:Endpoints</c> configuration section and reload with it; they are validated when the app starts.
    /// Safe to call more than once: each call adds its configuration, and the same <paramref name="configure"/> delegate
    /// given twice applies once.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddEmailGuard()</c>.</param>
    /// <param name="configure">Adds policies, e.g. <c>o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(15))))</c>.</param>
    /// <returns>The builder.</returns>
    public static IEmailGuardBuilder AddEndpointPolicies(this IEmailGuardBuilder builder, Action<EmailGuardEndpointOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        AddEndpointServices(services);
        if (configure is not null)
        {
            ConfigureOnce.Configure(services, configure);
        }

        return builder;
    }

    /// <summary>Registers what the middleware needs; also called by <c>UseEmailGuard</c>'s check, so keep it idempotent.</summary>
    internal static void AddEndpointServices(IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(EndpointMetrics)))
        {
            return;
        }

        services.AddSingleton(sp => new EndpointMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));

        // One compiled rule set and one defense per app, shared by the middleware and the feedback observer that bans
        // networks whose mail bounced.
        services.TryAddSingleton(sp => new EndpointGuardStateProvider(
            sp.GetRequiredService<IOptions<EmailGuardEndpointOptions>>().Value,
            sp.GetRequiredService<IOptionsFactory<EmailGuardEndpointOptions>>(),
            sp.GetService<IConfiguration>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<EmailGuardMiddleware>(),
            EndpointGuardStateProvider.SendGuardOf(sp),
            sp.GetService<EndpointDataSource>));
        services.TryAddSingleton(sp => new EndpointDefense(
            sp.GetRequiredService<IResilientRateLimitStore>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<EmailGuardMiddleware>(),
            sp.GetRequiredService<EndpointMetrics>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IEmailFeedbackObserver, EndpointFeedbackBans>());

        // One view of the client-network lists and one refresh timer for every UseEmailGuard in the app's branches.
        services.TryAddSingleton(sp => new ClientNetworkLists(
            sp.GetService<IEmailGuardLists>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<EmailGuardMiddleware>()));
        services.TryAddSingleton<MiddlewareUse>();
        services.TryAddSingleton<UnguardedEndpoints>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, UnguardedEndpointMatcherPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ReroutedEndpointMatcherPolicy>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MiddlewareUseCheck>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ForwardedHeadersTrustCheck>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, UnservedPathRuleCheck>());
        services.AddOptions<EmailGuardEndpointOptions>().ValidateOnStart();
        services.TryAddTransient<IOptionsFactory<EmailGuardEndpointOptions>, StrictOptionsFactory<EmailGuardEndpointOptions>>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardEndpointOptions>, StrictBindingValidation<EmailGuardEndpointOptions>>());
        services.AddSingleton<IConfigureOptions<EmailGuardEndpointOptions>>(sp =>
            new ConfigureEndpointOptionsFromConfiguration(sp.GetService<IConfiguration>()));

        // No IOptionsChangeTokenSource on purpose: IOptionsMonitor would validate a reloaded section inside the
        // configuration's change callback and throw there. The middleware reloads through the options factory itself,
        // and keeps the previous rules when a change is invalid.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardEndpointOptions>, EmailGuardEndpointOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EmailGuardEndpointOptions>, EmailGuardEndpointOptionsRulesValidator>());

        // Razor page handler attributes are not endpoint metadata; this puts them there.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPageApplicationModelProvider, EmailRateLimitPageApplicationModelProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<MvcOptions>, ConfigureEmailGuardPageFilters>());
    }
}
