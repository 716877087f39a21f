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
    private readonly GuardedStoreCall _call;

    public ResilientKeyValueStore(IEmailGuardKeyValueStore store, StoreResilienceOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        Timeout = options.Timeout;
        _call = new GuardedStoreCall("key-value store", options, timeProvider);
    }

    public IEmailGuardKeyValueStore Inner => _store;

    public TimeSpan Timeout { get; }

    public ValueTask SetAsync(string key, string value, TimeSpan timeToLive, CancellationToken cancellationToken)
        => _call.CallAsync(_store, (s, ct) => s.SetAsync(key, value, timeToLive, ct), Timeout, "store a message-id mapping", cancellationToken);

    public ValueTask<string?> GetAsync(string key, CancellationToken cancellationToken)
        => _call.CallAsync(_store, (s, ct) => s.GetAsync(key, ct), Timeout, "read a message-id mapping", cancellationToken);

    public ValueTask<string?> GetOrAddAsync(string key, string value, TimeSpan timeToLive, string what, CancellationToken cancellationToken)
        => _call.CallAsync(_store, (s, ct) => s.GetOrAddAsync(key, value, timeToLive, ct), Timeout, what, cancellationToken);

    public ValueTask<bool> RemoveAsync(string key, string expectedValue, string what, CancellationToken cancellationToken)
        => _call.CallAsync(_store, (s, ct) => s.RemoveAsync(key, expectedValue, ct), Timeout, what, cancellationToken);
}
