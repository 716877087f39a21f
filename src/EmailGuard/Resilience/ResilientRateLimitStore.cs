using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The one way the send guard and the endpoint middleware talk to the store: a store failure or timeout never
/// escapes as an exception, it becomes the caller's <see cref="StoreFailureMode"/>.
/// </summary>
internal sealed partial class ResilientRateLimitStore
{
    private readonly IRateLimitStore _store;
    private readonly InMemoryRateLimitStore _fallback;
    private readonly StoreResilienceOptions _options;
    private readonly ILogger _logger;

    public ResilientRateLimitStore(IRateLimitStore store, StoreResilienceOptions options, TimeProvider timeProvider, ILogger<ResilientRateLimitStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _fallback = store as InMemoryRateLimitStore ?? new InMemoryRateLimitStore(new InMemoryRateLimitStoreOptions(), timeProvider);
    }

    /// <summary>The store behind this wrapper.</summary>
    public IRateLimitStore Store => _store;

    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken = default)
    {
        ValueTask<RateLimitDecision> pending;
        try
        {
            pending = _store.AcquireAsync(requests, results, cancellationToken);
        }
        catch (Exception ex) when (ex is not ArgumentException and not OperationCanceledException)
        {
            return OnFailureAsync(ex, requests, results, failureMode, cancellationToken);
        }

        return pending.IsCompletedSuccessfully ? pending : AwaitAsync(pending, requests, results, failureMode, cancellationToken);
    }

    public async ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _store.PeekAsync(requests, results, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ArgumentException and not OperationCanceledException)
        {
            LogStoreFailure(_logger, ex);
            return new RateLimitDecision(RateLimitStatus.StoreUnavailable, -1, TimeSpan.Zero, default);
        }
    }

    /// <summary>Gives permits back; a failure is logged and swallowed, since a lost refund only makes limits stricter.</summary>
    public async ValueTask<bool> TryRefundAsync(ReadOnlyMemory<RateLimitRequest> requests, DateTimeOffset acquiredAt, CancellationToken cancellationToken = default)
    {
        try
        {
            await _store.RefundAsync(requests, acquiredAt, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not ArgumentException and not OperationCanceledException)
        {
            LogStoreFailure(_logger, ex);
            return false;
        }
    }

    private async ValueTask<RateLimitDecision> AwaitAsync(
        ValueTask<RateLimitDecision> pending, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken)
    {
        try
        {
            return await pending.AsTask().WaitAsync(_options.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not ArgumentException && !cancellationToken.IsCancellationRequested)
        {
            return await OnFailureAsync(ex, requests, results, failureMode, cancellationToken).ConfigureAwait(false);
        }
    }

    private ValueTask<RateLimitDecision> OnFailureAsync(
        Exception exception, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken)
    {
        LogStoreFailure(_logger, exception);
        switch (failureMode)
        {
            case StoreFailureMode.FailClosed:
                return new(new RateLimitDecision(RateLimitStatus.StoreUnavailable, -1, TimeSpan.FromSeconds(1), default));
            case StoreFailureMode.LocalFallback:
                return _fallback.AcquireAsync(LocalShare(requests), results, cancellationToken);
            default:
                return new(new RateLimitDecision(RateLimitStatus.AllowedUnguarded, -1, TimeSpan.Zero, default));
        }
    }

    /// <summary>Each instance enforces its share of every limit, so N instances together cannot exceed it.</summary>
    private ReadOnlyMemory<RateLimitRequest> LocalShare(ReadOnlyMemory<RateLimitRequest> requests)
    {
        int instances = _options.InstanceCount;
        if (instances <= 1)
        {
            return requests;
        }

        RateLimitRequest[] shared = requests.ToArray();
        for (int i = 0; i < shared.Length; i++)
        {
            RateLimitRule rule = shared[i].Rule;
            shared[i] = shared[i] with { Rule = rule.WithLimit(Math.Max(1, rule.Limit / instances)) };
        }

        return shared;
    }

    [LoggerMessage(EventId = 100, EventName = "StoreFailure", Level = LogLevel.Warning, Message = "The rate-limit store failed; applying the failure mode.")]
    private static partial void LogStoreFailure(ILogger logger, Exception exception);
}
