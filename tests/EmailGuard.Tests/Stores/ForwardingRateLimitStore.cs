namespace EmailGuard.Tests.Stores;

/// <summary>
/// A test store that passes every call to <paramref name="inner"/>; a fake overrides only the calls it changes (holds,
/// gates, counts, fails), instead of repeating the forwarding of the rest.
/// </summary>
/// <param name="inner">The store that decides.</param>
internal abstract class ForwardingRateLimitStore(IRateLimitStore inner) : IRateLimitStore
{
    /// <summary>Gets the store the calls go on to.</summary>
    protected IRateLimitStore Next => inner;

    public virtual ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => inner.AcquireAsync(requests, results, cancellationToken);

    public virtual ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => inner.PeekAsync(requests, results, cancellationToken);

    public virtual ValueTask<RateLimitDecision> ReserveAsync(ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => inner.ReserveAsync(requests, maxWait, results, cancellationToken);

    public virtual ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
        => inner.RefundAsync(requests, decision, cancellationToken);

    public virtual ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => inner.ResetAsync(key, rule, cancellationToken);
}
