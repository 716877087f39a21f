namespace EmailGuard;

/// <summary>
/// Only a call probes an open circuit, so an instance that gets no calls keeps its circuit open after the store is
/// back. The store's health check is what takes such an instance out of a load balancer (503 while open), and the
/// balancer then sends it no call: it stayed out for good. The health check therefore probes the store itself once the
/// break is over, with one peek that reads nothing of the app's counters.
/// </summary>
internal sealed partial class ResilientRateLimitStore
{
    // A cost of 0 reads a counter without taking anything; this key is no counter of the guard's or the endpoints'.
    private static readonly RateLimitRequest[] s_idleProbe = [new("health:probe", RateLimitRule.PerMinute(1), 0)];

    /// <summary>
    /// Starts a probe of the store when the circuit is open and its break is over; otherwise does nothing. The breaker
    /// lets one probe through at a time, so a check that runs while another probe is out starts no call of its own.
    /// </summary>
    /// <returns>The probe, which never throws; completed when none was started.</returns>
    internal Task ProbeIfDueAsync()
    {
        if (_storeIsLocal || _breaker.State != StoreCircuitState.Open || _breaker.RemainingBreak > TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        // A peek's store failures and timeouts become its StoreUnavailable decision and the breaker's verdict.
        return PeekAsync(s_idleProbe, Memory<RateLimitEntry>.Empty).AsTask();
    }
}
