using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Resilience;

/// <summary>
/// A store that succeeds, fails, throws or hangs on command, counting the calls that reach it. Successful calls are
/// decided by an in-memory store but completed asynchronously, so the wrapper takes its network-store path.
/// </summary>
internal sealed class FakeRateLimitStore(FakeTimeProvider timeProvider) : IRateLimitStore
{
    private readonly InMemoryRateLimitStore _inner = new(new InMemoryRateLimitStoreOptions(), timeProvider);
    private int _calls;

    public FakeStoreBehavior Behavior { get; set; }

    public Func<Exception> Exception { get; set; } = () => new InvalidOperationException("The fake store is down.");

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Calls that hang, with the results buffer the store was handed.</summary>
    public ConcurrentQueue<(TaskCompletionSource<RateLimitDecision> Completion, Memory<RateLimitEntry> Results)> Hanging { get; } = new();

    public InMemoryRateLimitStore Inner => _inner;

    public ValueTask<RateLimitDecision> AcquireAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Call(requests, results, commit: true, cancellationToken);

    public ValueTask<RateLimitDecision> PeekAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => Call(requests, results, commit: false, cancellationToken);

    public ValueTask<bool> RefundAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _calls);
        return Behavior switch
        {
            FakeStoreBehavior.Succeed => new ValueTask<bool>(RefundLaterAsync(requests, decision)),
            FakeStoreBehavior.Fail => ValueTask.FromException<bool>(Exception()),
            FakeStoreBehavior.ThrowSynchronously => throw Exception(),
            _ => new ValueTask<bool>(Hang(default).Task.ContinueWith(static hung => hung.Result.IsAllowed, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)),
        };
    }

    public ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default)
        => _inner.ResetAsync(key, rule, cancellationToken);

    /// <summary>
    /// Completes every hanging call: with <paramref name="exception"/>, or by writing junk results and allowing, with
    /// <paramref name="admitted"/> as the decision when given (an admission the inner store really made, so that it
    /// can be refunded).
    /// </summary>
    public void ReleaseHanging(Exception? exception = null, RateLimitDecision? admitted = null)
    {
        while (Hanging.TryDequeue(out (TaskCompletionSource<RateLimitDecision> Completion, Memory<RateLimitEntry> Results) call))
        {
            if (exception is not null)
            {
                call.Completion.SetException(exception);
                continue;
            }

            call.Results.Span.Fill(new RateLimitEntry(false, 999, 999, TimeSpan.FromDays(1), DateTimeOffset.MaxValue));
            call.Completion.SetResult(admitted ?? new RateLimitDecision(RateLimitStatus.Allowed, -1, TimeSpan.Zero, timeProvider.GetUtcNow()));
        }
    }

    private ValueTask<RateLimitDecision> Call(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool commit, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        return Behavior switch
        {
            FakeStoreBehavior.Succeed => new ValueTask<RateLimitDecision>(DecideLaterAsync(requests, results, commit, cancellationToken)),
            FakeStoreBehavior.Fail => ValueTask.FromException<RateLimitDecision>(Exception()),
            FakeStoreBehavior.ThrowSynchronously => throw Exception(),
            FakeStoreBehavior.AnswerFromCache => new(FromCacheLaterAsync(requests, results, commit, cancellationToken)),
            _ => new ValueTask<RateLimitDecision>(Hang(results).Task),
        };
    }

    private TaskCompletionSource<RateLimitDecision> Hang(Memory<RateLimitEntry> results)
    {
        TaskCompletionSource<RateLimitDecision> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Hanging.Enqueue((completion, results));
        return completion;
    }

    private async Task<RateLimitDecision> DecideLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool commit, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return commit
            ? await _inner.AcquireAsync(requests, results, cancellationToken)
            : await _inner.PeekAsync(requests, results, cancellationToken);
    }

    private async Task<RateLimitDecision> FromCacheLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, bool commit, CancellationToken cancellationToken)
        => await DecideLaterAsync(requests, results, commit, cancellationToken) with { AnsweredFromCache = true };

    private async Task<bool> RefundLaterAsync(ReadOnlyMemory<RateLimitRequest> requests, RateLimitDecision decision)
    {
        await Task.Yield();
        return await _inner.RefundAsync(requests, decision);
    }
}
