using EmailGuard;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds EmailGuard's store health check to <c>services.AddHealthChecks()</c>.
/// </summary>
public static class EmailGuardHealthChecksBuilderExtensions
{
    /// <summary>The name the store health check is registered under unless another is given.</summary>
    public const string DefaultName = "emailguard-store";

    /// <summary>
    /// Adds a health check that reports the circuit breaker in front of EmailGuard's store: healthy when closed,
    /// degraded while half-open, <paramref name="failureStatus"/> while open. It never calls the store itself.
    /// Requires <c>AddEmailGuard()</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">The status reported while the circuit is open; <see cref="HealthStatus.Unhealthy"/> when <see langword="null"/>.</param>
    /// <param name="tags">Tags to filter health checks by, e.g. <c>ready</c>.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IHealthChecksBuilder AddEmailGuardStore(
        this IHealthChecksBuilder builder,
        string name = DefaultName,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new EmailGuardStoreHealthCheck(sp.GetService<ResilientRateLimitStore>()
                ?? throw new InvalidOperationException(
                    "The EmailGuard store health check needs EmailGuard's services: call services.AddEmailGuard() in ConfigureServices or on builder.Services.")),
            failureStatus,
            tags));
    }
}
