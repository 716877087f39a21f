namespace EmailGuard.Benchmarks.Resilience;

/// <summary>
/// An in-memory store behind the plain interface, so the resilient wrapper takes its network-store path (buffer copies,
/// breaker, metrics) while the store itself answers synchronously: the wrapper's own cost, without a network.
/// </summary>
internal sealed class SynchronousStore(IRateLimitStore inner) : IRateLimitStore
{
    public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => inner.AcquireAsync(requests, results, cancellationToken);

    public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => inner.PeekAsync(requests, results, cancellationToken);

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
        => inner.RefundAsync(requests, decision, cancellationToken);

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => inner.ResetAsync(key, rule, cancellationToken);
}
