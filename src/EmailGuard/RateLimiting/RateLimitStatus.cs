namespace EmailGuard;

/// <summary>The outcome of an acquire.</summary>
/// <remarks>
/// The zero value is <see cref="None"/>, a denial: a <see langword="default"/> <see cref="RateLimitDecision"/> never
/// admits.
/// </remarks>
public enum RateLimitStatus
{
    /// <summary>No decision was made: the value of a <see langword="default"/> decision. It denies; nothing was taken.</summary>
    None = 0,

    /// <summary>Every entry fitted and every permit was taken.</summary>
    Allowed = 1,

    /// <summary>At least one entry did not fit; nothing was taken.</summary>
    LimitExceeded = 2,

    /// <summary>The store could not be reached and the failure mode is to deny; nothing is known to be taken.</summary>
    StoreUnavailable = 3,

    /// <summary>The store could not be reached and the failure mode is to admit without counting.</summary>
    AllowedUnguarded = 4,
}
