namespace EmailGuard.AspNetCore;

/// <summary>
/// What a policy does when a request carries no value for one of its user, tenant, route value or custom key
/// partitions: an anonymous request to a <see cref="EmailRateLimitPolicyBuilder.PerUser(RateLimitRule[])"/> partition,
/// one without the claim or header a tenant partition reads, a route without the parameter, a key selector that returns
/// <see langword="null"/> or an empty string. A missing body field follows <see cref="MissingFieldBehavior"/>, a missing
/// client address <see cref="MissingClientIpBehavior"/>.
/// </summary>
/// <remarks>
/// Whatever the behavior, a request that a policy counts in none of its partitions is recorded: the
/// <c>emailguard.endpoint.uncounted_requests</c> metric, and a warning (event 3118) at most once every 5 minutes per
/// policy.
/// </remarks>
public enum MissingValueBehavior
{
    /// <summary>
    /// Answer 400 with a problem-details body; the endpoint is not called. A policy in shadow mode leaves the partition
    /// out instead, as <see cref="Skip"/> does, since it never blocks.
    /// </summary>
    Reject = 0,

    /// <summary>
    /// Count every such request in one bucket of that partition, the one a value that folds to nothing (white space,
    /// invisible characters) counts in too: the partition's limit then holds for all of them together, so a client
    /// that leaves the value out cannot pass it, though it can spend the limit of every other request without one.
    /// </summary>
    ShareOneBucket = 1,

    /// <summary>
    /// Leave the partition out for that request; the policy's other partitions still apply. A policy whose every
    /// partition is left out then does not limit such requests at all.
    /// </summary>
    Skip = 2,
}
