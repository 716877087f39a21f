namespace EmailGuard;

/// <summary>
/// The state of the circuit breaker in front of the store. The numbers are what the
/// <c>emailguard.store.breaker.state</c> gauge reports: higher is worse.
/// </summary>
internal enum StoreCircuitState
{
    /// <summary>Calls go to the store.</summary>
    Closed = 0,

    /// <summary>One probe call is testing the store; every other call gets the failure mode.</summary>
    HalfOpen = 1,

    /// <summary>Calls skip the store and get the failure mode until the break duration has passed.</summary>
    Open = 2,
}
