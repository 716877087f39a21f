using System.Collections.Concurrent;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A network-like store that the test takes down and brings back: while up, an in-memory store decides, completing
/// asynchronously so that the resilience wrapper takes its network path (timeout, breaker, activity); while down,
/// every call throws or hangs. Several app instances can share one, as they would share Redis.
/// </summary>
internal sealed class FaultingRateLimitStore(TimeProvider timeProvider) : IRateLimitStore
{
    private readonly InMemoryRateLimitStore _inner = new(new InMemoryRateLimitStoreOptions(), timeProvider);
    private int _calls;

    public enum Mode
    {
        Up,
        Throw,
        Hang,
    }

    public Mode Behavior { get; set; }

    /// <summary>The calls that reached the store, whatever it did with them.</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Hanging calls; they complete only when the test releases them.</summary>
    public ConcurrentQueue<TaskCompletionSource<RateLimitDecision>> Hanging { get; } = new();

    public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return Behavior switch
        {
            Mode.Up => new(AcquireLaterAsync(requests, results, cancellationToken)),
            Mode.Throw => throw new InvalidOperationException("The store is down."),
            _ => new(Hang()),
        };
    }

    public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Behavior == Mode.Up ? _inner.PeekAsync(requests, results, cancellationToken) : throw new InvalidOperationException("The store is down.");

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
        => Behavior == Mode.Up ? _inner.RefundAsync(requests, decision, cancellationToken) : throw new InvalidOperationException("The store is down.");

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => Behavior == Mode.Up ? _inner.ResetAsync(key, rule, cancellationToken) : throw new InvalidOperationException("The store is down.");

    /// <summary>Fails every hanging call, as a connection that finally drops would.</summary>
    public void FailHanging()
    {
        while (Hanging.TryDequeue(out TaskCompletionSource<RateLimitDecision>? call))
        {
            call.SetException(new InvalidOperationException("The store is down."));
        }
    }

    private Task<RateLimitDecision> Hang()
    {
        TaskCompletionSource<RateLimitDecision> call = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Hanging.Enqueue(call);
        return call.Task;
    }

    private async Task<RateLimitDecision> AcquireLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return await _inner.AcquireAsync(requests, results, cancellationToken);
    }
}
