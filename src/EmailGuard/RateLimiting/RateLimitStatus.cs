namespace EmailGuard;

/// <summary>The outcome of an acquire.</summary>
public enum RateLimitStatus
{
    /// <summary>Every entry fitted and every permit was taken.</summary>
    Allowed = 0,

    /// <summary>At least one entry did not fit; nothing was taken.</summary>
    LimitExceeded = 1,

    /// <summary>The store could not be reached and the failure mode is to deny; nothing is known to be taken.</summary>
    StoreUnavailable = 2,

    /// <summary>The store could not be reached and the failure mode is to admit without counting.</summary>
    AllowedUnguarded = 3,
}
