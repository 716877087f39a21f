namespace EmailGuard.AspNetCore;

/// <summary>
/// What <see cref="EmailRateLimitPolicyBuilder.PerClientIp"/> partitions and per-IP path rules do with a request whose
/// <c>Connection.RemoteIpAddress</c> is unknown, as behind a Unix socket or a proxy whose forwarded headers the app does
/// not apply. EmailGuard logs a warning (event 1500) the first time it sees such a request.
/// </summary>
public enum MissingClientIpBehavior
{
    /// <summary>
    /// Answer 400 with a problem-details body; the endpoint is not called. A deployment that loses client addresses
    /// then fails loudly on the first request instead of letting one client spend everybody's quota.
    /// </summary>
    Reject = 0,

    /// <summary>
    /// Count every such request in one shared bucket: one client can then exhaust the limit for every other client
    /// without an address.
    /// </summary>
    ShareOneBucket = 1,

    /// <summary>
    /// Leave the client-IP partition out for that request; the policy's other partitions still apply. A policy that
    /// only counts per client IP then does not limit such requests at all.
    /// </summary>
    Skip = 2,
}
