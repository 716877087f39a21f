namespace EmailGuard.AspNetCore;

/// <summary>
/// What a policy does when a request carries the field one of its partitions is keyed by more than once: a JSON
/// property named twice (in any letter case), a form or query field repeated, or different addresses in the body, the
/// query string and the route. Model binding then picks one of them, or joins them, and the endpoint may mail an
/// address the limit never counted.
/// </summary>
public enum RepeatedFieldBehavior
{
    /// <summary>Answer 400 with a problem-details body before the endpoint runs; nothing is counted.</summary>
    Reject = 0,

    /// <summary>
    /// Count every distinct address the request carries (up to 16 per field; more answers 400), each against the
    /// partition's rules, in the same atomic acquire.
    /// </summary>
    CountEach = 1,
}
