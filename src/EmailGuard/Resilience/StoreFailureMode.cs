namespace EmailGuard;

/// <summary>
/// What a send-guard check or an endpoint policy does when the store cannot be reached in time.
/// </summary>
public enum StoreFailureMode
{
    /// <summary>Admit, and report the admission as unguarded (<see cref="RateLimitStatus.AllowedUnguarded"/>).</summary>
    FailOpen = 0,

    /// <summary>Deny with <see cref="RateLimitStatus.StoreUnavailable"/>; endpoints answer 503 with Retry-After.</summary>
    FailClosed = 1,

    /// <summary>
    /// Enforce limits in this process's memory until the store is back; each instance enforces its share of every
    /// limit, so that the instances together stay within it.
    /// </summary>
    LocalFallback = 2,
}
