using System.Collections.Concurrent;

namespace EmailGuard.Tests.Guard;

/// <summary>Passes calls to an inner store and remembers every key, or throws when told to, like a dead Redis.</summary>
internal sealed class RecordingRateLimitStore(IRateLimitStore inner) : IRateLimitStore
{
    public ConcurrentBag<string> Keys { get; } = [];

    public int Acquires;

    public bool Fail { get; set; }

    public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Acquires);
        Record(requests);
        return Fail ? throw new InvalidOperationException("store down") : inner.AcquireAsync(requests, results, cancellationToken);
    }

    public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        Record(requests);
        return Fail ? throw new InvalidOperationException("store down") : inner.PeekAsync(requests, results, cancellationToken);
    }

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
        => Fail ? throw new InvalidOperationException("store down") : inner.RefundAsync(requests, decision, cancellationToken);

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => inner.ResetAsync(key, rule, cancellationToken);

    private void Record(ReadOnlyMemory<RateLimitRequest> requests)
    {
        foreach (RateLimitRequest request in requests.Span)
        {
            Keys.Add(request.Key);
        }
    }
}
