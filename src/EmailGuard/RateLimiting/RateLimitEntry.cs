namespace EmailGuard;

/// <summary>
/// What a store decided for one <see cref="RateLimitRequest"/> of an acquire or a peek.
/// </summary>
public readonly record struct RateLimitEntry
{
    /// <summary>Initializes an entry.</summary>
    /// <param name="isAllowed">Whether this entry's own rule had room for its cost.</param>
    /// <param name="count">The permits counted after the decision.</param>
    /// <param name="limit">The rule's limit.</param>
    /// <param name="retryAfter">How long until this entry's cost fits; <see cref="TimeSpan.Zero"/> when it fits now.</param>
    /// <param name="resetAt">When the counted permits will all have left the window.</param>
    public RateLimitEntry(bool isAllowed, long count, long limit, TimeSpan retryAfter, DateTimeOffset resetAt)
    {
        IsAllowed = isAllowed;
        Count = count;
        Limit = limit;
        RetryAfter = retryAfter;
        ResetAt = resetAt;
    }

    /// <summary>
    /// Gets whether this entry's own rule had room for its cost. When the acquire as a whole was denied because of
    /// another entry, this entry can still be allowed, and nothing was consumed.
    /// </summary>
    public bool IsAllowed { get; }

    /// <summary>
    /// Gets the permits counted in the window after the decision: including this cost when the acquire was admitted,
    /// unchanged when it was denied or was a peek.
    /// </summary>
    public long Count { get; }

    /// <summary>Gets the rule's limit.</summary>
    public long Limit { get; }

    /// <summary>Gets the permits still available, never negative.</summary>
    public long Remaining => Math.Max(0, Limit - Count);

    /// <summary>
    /// Gets how long until this entry's cost would fit. <see cref="TimeSpan.Zero"/> when it fits now;
    /// <see cref="TimeSpan.MaxValue"/> when it never can (the cost exceeds the limit).
    /// </summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets when the permits counted now will all have left the window (for a fixed window, its end).</summary>
    public DateTimeOffset ResetAt { get; }
}
