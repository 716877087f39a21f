using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EmailGuard;

/// <summary>
/// Reports the store's circuit: healthy when closed, degraded while a probe tests the store (half-open), and the
/// registration's failure status (unhealthy by default) while open. It reads the breaker instead of calling the store,
/// so a health probe never waits on the store; once an open circuit's break is over, it starts the one probe the breaker
/// lets through (as a request would), so an instance without traffic finds the store again.
/// </summary>
/// <remarks>
/// With the circuit closed it also reports degraded when the store is configured so that limits quietly weaken (see
/// <see cref="IStoreConfigurationCheck"/>, checked in the background), and when the send guard's lists and flags were
/// never loaded or are stale: older than three refresh intervals, at least 30 seconds.
/// <para>
/// <c>AddEmailGuard()</c> registers it as a singleton, and the core package needs only the health checks abstractions:
/// with ASP.NET Core, <c>AddHealthChecks().AddEmailGuardStore()</c> (EmailGuard.AspNetCore) adds it; any other host adds it
/// with <c>AddHealthChecks().AddCheck&lt;EmailGuardStoreHealthCheck&gt;("emailguard-store")</c>.
/// </para>
/// </remarks>
public sealed class EmailGuardStoreHealthCheck : IHealthCheck
{
    private readonly ResilientRateLimitStore _store;
    private readonly GuardStateCache? _state;
    private readonly IEnumerable<IStoreConfigurationCheck>? _configurationChecks;

    internal EmailGuardStoreHealthCheck(
        ResilientRateLimitStore store, GuardStateCache? state = null, IEnumerable<IStoreConfigurationCheck>? configurationChecks = null)
    {
        _store = store;
        _state = state;
        _configurationChecks = configurationChecks;
    }

    private static readonly TimeSpan s_minimumStaleAge = TimeSpan.FromSeconds(30);

    /// <summary>The latest probe this check started; tests await it.</summary>
    internal Task Probe { get; private set; } = Task.CompletedTask;

    /// <summary>Reports the store's circuit, its configuration warnings and the age of the send guard's _state; never waits on the _store.</summary>
    /// <param name="context">The health check context, with the registration's failure status.</param>
    /// <param name="cancellationToken">Not used: the check does not wait.</param>
    /// <returns>The result, completed.</returns>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        StoreCircuitBreaker breaker = _store.Breaker;
        StoreCircuitState circuit = breaker.State;

        // Open past its break with no call to probe it (an instance the load balancer took out for this very check):
        // start the probe here, without waiting for it, so the circuit can close and the instance come back. This
        // check still reports the open circuit it read: reporting the probe's half-open state (degraded, a 200) would
        // put an instance whose store is still down back in the balancer at every check past the break.
        Task probe = _store.ProbeIfDueAsync();
        if (!probe.IsCompleted || Probe.IsCompleted)
        {
            Probe = probe;
        }

        Dictionary<string, object> data = new(StringComparer.Ordinal)
        {
            ["store"] = _store.Store.GetType().Name,
            ["circuit"] = circuit.ToString(),
            ["consecutiveFailures"] = breaker.ConsecutiveFailures,
        };

        List<string> warnings = [];
        foreach (IStoreConfigurationCheck check in _configurationChecks ?? [])
        {
            check.Refresh();
            warnings.AddRange(check.Warnings);
        }

        if (_state is not null)
        {
            TimeSpan? age = _state.Age;
            data["stateAgeSeconds"] = age is { } known ? Math.Round(known.TotalSeconds, 1) : -1;
            data["stateCircuit"] = _state.Store.CircuitState.ToString();
            TimeSpan staleAfter = _state.RefreshInterval * 3 > s_minimumStaleAge ? _state.RefreshInterval * 3 : s_minimumStaleAge;
            if (age is null)
            {
                warnings.Add("The send guard's blocklists and flags have not been loaded yet; until they are, checks follow the failure mode.");
            }
            else if (age > staleAfter)
            {
                warnings.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"The send guard's blocklists and flags are {age.Value.TotalSeconds:0} s old: the state store has not answered since."));
            }
        }

        if (warnings.Count != 0)
        {
            data["warnings"] = warnings.ToArray();
        }

        HealthCheckResult result = circuit switch
        {
            StoreCircuitState.Closed when warnings.Count == 0 => HealthCheckResult.Healthy("The rate-limit store circuit is closed.", data),
            StoreCircuitState.Closed => HealthCheckResult.Degraded(string.Join(" ", warnings), data: data),
            StoreCircuitState.HalfOpen => HealthCheckResult.Degraded("The rate-limit store circuit is half-open: a probe is testing the store.", data: data),
            _ => new HealthCheckResult(
                context.Registration.FailureStatus,
                string.Create(CultureInfo.InvariantCulture, $"The rate-limit store circuit is open; calls get their failure mode. Next probe in {breaker.RemainingBreak.TotalSeconds:0.#} s."),
                data: data),
        };
        return Task.FromResult(result);
    }
}
