namespace EmailGuard;

/// <summary>
/// The result of an atomic acquire or peek: admitted as a whole or not at all. Per-entry detail is written to the
/// results buffer passed to the store.
/// </summary>
public readonly record struct RateLimitDecision
{
    /// <summary>Initializes a decision.</summary>
    /// <param name="status">The outcome.</param>
    /// <param name="deniedIndex">The index of the first request that did not fit, or -1.</param>
    /// <param name="retryAfter">How long until every request would fit.</param>
    /// <param name="timestamp">The store's clock when it decided.</param>
    public RateLimitDecision(RateLimitStatus status, int deniedIndex, TimeSpan retryAfter, DateTimeOffset timestamp)
    {
        Status = status;
        DeniedIndex = deniedIndex;
        RetryAfter = retryAfter;
        Timestamp = timestamp;
    }

    /// <summary>Gets the outcome.</summary>
    public RateLimitStatus Status { get; }

    /// <summary>Gets whether the caller may proceed (<see cref="RateLimitStatus.Allowed"/> or <see cref="RateLimitStatus.AllowedUnguarded"/>).</summary>
    public bool IsAllowed => Status is RateLimitStatus.Allowed or RateLimitStatus.AllowedUnguarded;

    /// <summary>Gets the index of the first request that did not fit, or -1 when none was denied by a limit.</summary>
    public int DeniedIndex { get; }

    /// <summary>
    /// Gets how long until every request would fit: the longest retry-after of the denied entries.
    /// <see cref="TimeSpan.Zero"/> when allowed; <see cref="TimeSpan.MaxValue"/> when a cost can never fit.
    /// </summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>
    /// Gets the store's clock when it decided. Pass it to <see cref="IRateLimitStore.RefundAsync"/> to give the permits back.
    /// </summary>
    public DateTimeOffset Timestamp { get; }
}
