namespace EmailGuard;

/// <summary>
/// Looks for store settings that quietly weaken limits, which the circuit breaker cannot see because every call
/// succeeds (for Redis: a <c>maxmemory-policy</c> that evicts counters). EmailGuard refreshes every registered check
/// when the host starts and from its health check, and reports the warnings there.
/// </summary>
/// <remarks>
/// Register a check next to the store, once, with
/// <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IStoreConfigurationCheck, TCheck&gt;())</c>.
/// </remarks>
public interface IStoreConfigurationCheck
{
    /// <summary>Gets the problems the last completed check found; empty when none were found or no check has completed.</summary>
    IReadOnlyList<string> Warnings { get; }

    /// <summary>
    /// Starts a check in the background unless one is running or ran recently, and returns at once: it is called on
    /// the host's start and from the health check, neither of which may wait on the store.
    /// </summary>
    void Refresh();
}
