namespace EmailGuard.AspNetCore;

/// <summary>What a policy does when a request lacks the body field one of its partitions is keyed by.</summary>
public enum MissingFieldBehavior
{
    /// <summary>
    /// Answer 400 with a problem-details body; the endpoint is not called. A policy in shadow mode leaves the
    /// partition out instead, as <see cref="Skip"/> does, since it never blocks.
    /// </summary>
    Reject = 0,

    /// <summary>Leave that partition out of the acquire; the policy's other partitions still apply.</summary>
    Skip = 1,
}
