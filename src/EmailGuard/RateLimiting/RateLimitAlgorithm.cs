namespace EmailGuard;

/// <summary>
/// How a <see cref="RateLimitRule"/> counts permits over time.
/// </summary>
public enum RateLimitAlgorithm
{
    /// <summary>
    /// Windows aligned to whole multiples of the window length since the Unix epoch (UTC), so every instance agrees
    /// on when a window starts. Cheap and predictable, but up to twice the limit can pass across a window boundary.
    /// </summary>
    FixedWindow = 0,

    /// <summary>
    /// The window is split into segments; a request is admitted only when the permits in every segment that overlaps
    /// the trailing window, plus its cost, stay within the limit. No interval of the window's length ever admits more
    /// than the limit.
    /// </summary>
    SlidingWindow = 1,

    /// <summary>
    /// A token bucket decided with GCRA (the generic cell rate algorithm): the bucket holds at most the rule's limit
    /// (the burst) and refills one permit every <see cref="RateLimitRule.EmissionIntervalMicroseconds"/>. In no
    /// interval of length <c>t</c> are more than <c>burst + rate × t</c> permits admitted. A store keeps one number
    /// per bucket: the theoretical arrival time, when the bucket will be full again.
    /// </summary>
    TokenBucket = 2,
}
