using System.Globalization;

namespace EmailGuard;

/// <summary>
/// One store's calls bounded by a timeout and passed through a circuit breaker of their own: the protection the state
/// store and the key-value store share with the rate-limit store. A timeout, a store exception or an open circuit
/// surfaces as <see cref="EmailGuardStoreUnavailableException"/>; bad input and the caller's own cancellation pass
/// through unchanged.
/// </summary>
internal sealed class GuardedStoreCall
{
    private readonly string _storeName;
    private readonly TimeProvider _timeProvider;
    private readonly StoreCircuitBreaker _breaker;
    private readonly Action<TimeSpan>? _onOpened;
    private readonly Action? _onClosed;

    /// <param name="storeName">How messages name the store, e.g. "state store".</param>
    /// <param name="options">The timeout and breaker settings.</param>
    /// <param name="timeProvider">The clock of the timeout and the breaker.</param>
    /// <param name="onOpened">Called with the break duration when a failure opens the circuit.</param>
    /// <param name="onClosed">Called when a success closes it again.</param>
    public GuardedStoreCall(string storeName, StoreResilienceOptions options, TimeProvider timeProvider, Action<TimeSpan>? onOpened = null, Action? onClosed = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _storeName = storeName;
        _timeProvider = timeProvider;
        _breaker = new StoreCircuitBreaker(options, timeProvider);
        _onOpened = onOpened;
        _onClosed = onClosed;
    }

    public StoreCircuitState CircuitState => _breaker.State;

    /// <summary>Runs <paramref name="call"/> on <paramref name="store"/>, bounded by <paramref name="timeout"/>.</summary>
    /// <param name="store">The store to call.</param>
    /// <param name="call">The call.</param>
    /// <param name="timeout">The bound of the wait, whatever the store does with the token.</param>
    /// <param name="what">What the call does, for the exception's message ("could not …").</param>
    /// <param name="cancellationToken">The caller's token, passed to the store.</param>
    public async ValueTask<T> CallAsync<TStore, T>(
        TStore store, Func<TStore, CancellationToken, ValueTask<T>> call, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        StoreCallPermit permit = _breaker.TryEnter();
        if (permit == StoreCallPermit.Rejected)
        {
            throw new EmailGuardStoreUnavailableException(string.Create(
                CultureInfo.InvariantCulture,
                $"The EmailGuard {_storeName} is down (its circuit is open, next probe in {_breaker.RemainingBreak.TotalSeconds:0.#} s): could not {what}."));
        }

        try
        {
            // The store gets the caller's token, but the wait is cut by the timeout whatever the store does with it.
            ValueTask<T> pending;
            try
            {
                pending = call(store, cancellationToken);
            }
            catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
            {
                pending = ValueTask.FromException<T>(ex);
            }

            T result = await BoundedCall.WaitAsync(pending, timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
            if (_breaker.OnSuccess(permit))
            {
                _onClosed?.Invoke();
            }

            return result;
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            if (_breaker.OnFailure(permit))
            {
                _onOpened?.Invoke(_breaker.BreakDuration);
            }

            string reason = ex is TimeoutException
                ? string.Create(CultureInfo.InvariantCulture, $"did not answer within {timeout.TotalMilliseconds:0} ms")
                : "failed";
            throw new EmailGuardStoreUnavailableException($"The EmailGuard {_storeName} {reason}: could not {what}.", ex);
        }
        catch
        {
            _breaker.Abandon(permit);
            throw;
        }
    }

    /// <summary>Runs a call without a result; see <see cref="CallAsync{TStore, T}"/>.</summary>
    public async ValueTask CallAsync<TStore>(
        TStore store, Func<TStore, CancellationToken, ValueTask> call, TimeSpan timeout, string what, CancellationToken cancellationToken)
        => await CallAsync(
            store,
            async (s, ct) =>
            {
                await call(s, ct).ConfigureAwait(false);
                return true;
            },
            timeout,
            what,
            cancellationToken).ConfigureAwait(false);

    /// <summary>Bad input stays the caller's bug, and the caller's own cancellation is the caller's; anything else is the store failing.</summary>
    private static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken)
        => exception is not ArgumentException
           && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested);
}
