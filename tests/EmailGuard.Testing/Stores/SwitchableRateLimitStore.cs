using EmailGuard;

namespace EmailGuard.Testing.Stores;

/// <summary>
/// One app instance's view of a shared store, with its own failure switch: while <see cref="Down"/>, every call throws
/// as an unreachable Redis would, for this instance only. Being no in-memory store itself, it sends the resilience
/// wrapper down its shared-store path even over the in-memory store.
/// </summary>
public sealed class SwitchableRateLimitStore(IRateLimitStore inner) : IRateLimitStore
{
    /// <summary>Gets or sets whether this instance's calls fail.</summary>
    public bool Down { get; set; }

    /// <summary>Gets the shared store behind the switch.</summary>
    public IRateLimitStore Inner => inner;

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Down ? throw Unreachable() : inner.AcquireAsync(requests, results, cancellationToken);

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Down ? throw Unreachable() : inner.PeekAsync(requests, results, cancellationToken);

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> ReserveAsync(ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Down ? throw Unreachable() : inner.ReserveAsync(requests, maxWait, results, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
        => Down ? throw Unreachable() : inner.RefundAsync(requests, decision, cancellationToken);

    /// <inheritdoc />
    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => Down ? throw Unreachable() : inner.ResetAsync(key, rule, cancellationToken);

    private static InvalidOperationException Unreachable() => new("The store is unreachable from this instance.");
}
