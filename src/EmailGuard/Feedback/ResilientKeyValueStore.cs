namespace EmailGuard;

/// <summary>
/// The key-value store behind the same protection as the other stores: every call bounded by
/// <see cref="StoreResilienceOptions.Timeout"/>, behind a circuit breaker of its own. A timeout, a store exception or an
/// open circuit surfaces as <see cref="EmailGuardStoreUnavailableException"/>; bad input and the caller's own
/// cancellation pass through unchanged.
/// </summary>
internal sealed class ResilientKeyValueStore
{
    private readonly IEmailGuardKeyValueStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly StoreCircuitBreaker _breaker;

    public ResilientKeyValueStore(IEmailGuardKeyValueStore store, StoreResilienceOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _timeProvider = timeProvider;
        Timeout = options.Timeout;
        _breaker = new StoreCircuitBreaker(options, timeProvider);
    }

    public IEmailGuardKeyValueStore Inner => _store;

    public TimeSpan Timeout { get; }

    public async ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken)
        => await CallAsync(
            async (s, ct) =>
            {
                await s.SetAsync(key, value, timeToLive, ct).ConfigureAwait(false);
                return true;
            },
            "store a message-id mapping",
            cancellationToken).ConfigureAwait(false);

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
        => CallAsync((s, ct) => s.GetAsync(key, ct), "read a message-id mapping", cancellationToken);

    private async ValueTask<T> CallAsync<T>(Func<IEmailGuardKeyValueStore, CancellationToken, ValueTask<T>> call, string what, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        StoreCallPermit permit = _breaker.TryEnter();
        if (permit == StoreCallPermit.Rejected)
        {
            throw new EmailGuardStoreUnavailableException($"The EmailGuard key-value store is down (its circuit is open): could not {what}.");
        }

        try
        {
            ValueTask<T> pending;
            try
            {
                pending = call(_store, cancellationToken);
            }
            catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
            {
                pending = ValueTask.FromException<T>(ex);
            }

            T result = await BoundedCall.WaitAsync(pending, Timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
            _breaker.OnSuccess(permit);
            return result;
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            _breaker.OnFailure(permit);
            string reason = ex is TimeoutException ? "did not answer in time" : "failed";
            throw new EmailGuardStoreUnavailableException($"The EmailGuard key-value store {reason}: could not {what}.", ex);
        }
        catch
        {
            _breaker.Abandon(permit);
            throw;
        }
    }

    private static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken)
        => exception is not ArgumentException
           && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested);
}
