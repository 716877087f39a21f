using EmailGuard;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds EmailGuard's store health check to <c>services.AddHealthChecks()</c>. It lives in EmailGuard.AspNetCore because
/// <see cref="IHealthChecksBuilder"/> comes with the health checks implementation, which the ASP.NET Core shared framework
/// carries; the core package depends on the abstractions only. Other hosts add
/// <see cref="EmailGuardStoreHealthCheck"/> with <c>AddCheck&lt;EmailGuardStoreHealthCheck&gt;(name)</c>.
/// </summary>
public static class EmailGuardHealthChecksBuilderExtensions
{
    /// <summary>The name the store health check is registered under unless another is given.</summary>
    public const string DefaultName = "emailguard-store";

    /// <summary>
    /// Adds a health check that reports the circuit breaker in front of EmailGuard's store: healthy when closed,
    /// degraded while half-open, <paramref name="failureStatus"/> while open. It never waits on the store. With the circuit
    /// closed it reports degraded when the store's configuration lets counters be lost (for Redis, a
    /// <c>maxmemory-policy</c> other than <c>noeviction</c>) and when the send guard's lists and flags are not loaded or
    /// stale; the data then holds <c>warnings</c>, and always <c>stateAgeSeconds</c> when the send guard is added.
    /// Requires <c>AddEmailGuard()</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">The status reported while the circuit is open; <see cref="HealthStatus.Unhealthy"/> when <see langword="null"/>.</param>
    /// <param name="tags">Tags to filter health checks by, e.g. <c>ready</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    /// <remarks>Safe to call more than once: a later call under the same name replaces the earlier one.</remarks>
    public static IHealthChecksBuilder AddEmailGuardStore(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        HealthCheckRegistration registration = new(
            name,
            sp => sp.GetService<EmailGuardStoreHealthCheck>()
                ?? throw new InvalidOperationException(
                    "The EmailGuard store health check needs EmailGuard's services: call services.AddEmailGuard() in ConfigureServices or on builder.Services."),
            failureStatus,
            tags);

        // A second call under the same name replaces the first, instead of failing the health check service's
        // duplicate-name check at the first probe.
        builder.Services.Configure<HealthCheckServiceOptions>(options =>
        {
            foreach (HealthCheckRegistration existing in options.Registrations.Where(r => IsStoreCheck(r, name)).ToList())
            {
                options.Registrations.Remove(existing);
            }

            options.Registrations.Add(registration);
        });
        return builder;
    }

    private static bool IsStoreCheck(HealthCheckRegistration registration, string name)
        => string.Equals(registration.Name, name, StringComparison.OrdinalIgnoreCase);
}
