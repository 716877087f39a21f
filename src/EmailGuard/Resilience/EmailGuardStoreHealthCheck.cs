using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EmailGuard;

/// <summary>
/// Reports the store's circuit: healthy when closed, degraded while a probe tests the store (half-open), and the
/// registration's failure status (unhealthy by default) while open. It reads the breaker instead of calling the store,
/// so a health probe never adds load to a struggling store nor waits on it.
/// </summary>
internal sealed class EmailGuardStoreHealthCheck(ResilientRateLimitStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        StoreCircuitBreaker breaker = store.Breaker;
        StoreCircuitState state = breaker.State;
        Dictionary<string, object> data = new(StringComparer.Ordinal)
        {
            ["store"] = store.Store.GetType().Name,
            ["circuit"] = state.ToString(),
            ["consecutiveFailures"] = breaker.ConsecutiveFailures,
        };

        HealthCheckResult result = state switch
        {
            StoreCircuitState.Closed => HealthCheckResult.Healthy("The rate-limit store circuit is closed.", data),
            StoreCircuitState.HalfOpen => HealthCheckResult.Degraded("The rate-limit store circuit is half-open: a probe is testing the store.", data: data),
            _ => new HealthCheckResult(
                context.Registration.FailureStatus,
                $"The rate-limit store circuit is open; calls get their failure mode. Next probe in {breaker.RemainingBreak.TotalSeconds:0.#} s.",
                data: data),
        };
        return Task.FromResult(result);
    }
}
