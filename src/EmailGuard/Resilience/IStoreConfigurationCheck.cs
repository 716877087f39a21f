namespace EmailGuard;

/// <summary>
/// Looks for store settings that quietly weaken limits, which the circuit breaker cannot see because every call
/// succeeds (for Redis: a <c>maxmemory-policy</c> that evicts counters). Run at startup and from the health check.
/// </summary>
internal interface IStoreConfigurationCheck
{
    /// <summary>The problems the last completed check found; empty when none were found or no check has completed.</summary>
    IReadOnlyList<string> Warnings { get; }

    /// <summary>Starts a check in the background unless one is running or ran recently. Never waits on the store.</summary>
    void Refresh();
}
