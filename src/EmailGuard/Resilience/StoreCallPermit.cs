namespace EmailGuard;

/// <summary>What the circuit breaker lets one call do.</summary>
internal enum StoreCallPermit
{
    /// <summary>The circuit is closed: call the store.</summary>
    Closed = 0,

    /// <summary>The circuit was open long enough: this call is the one half-open probe.</summary>
    Probe = 1,

    /// <summary>The circuit is open or another call is probing: do not touch the store.</summary>
    Rejected = 2,
}
