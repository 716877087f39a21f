using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The one way the send guard and the endpoint middleware talk to the store. Every call is bounded by
/// <see cref="StoreResilienceOptions.Timeout"/> and passes a circuit breaker; a store exception, a timeout or an open
/// circuit never escapes as an exception, it becomes the caller's <see cref="StoreFailureMode"/>. Only bad input
/// (<see cref="ArgumentException"/>) and the caller's own cancellation escape.
/// </summary>
/// <remarks>
/// One concern per file: the calls and the breaker here; what a failure decides and the local fallback in
/// <c>.Fallback.cs</c>; metrics, logs and activities in <c>.Telemetry.cs</c> and <c>.Log.cs</c>; cancelled calls in
/// <c>.Cancellation.cs</c>; busy stores in <c>.StoreBusy.cs</c>; refunds in <c>.Refund.cs</c>; reservations in <c>.Reserve.cs</c>. Waits are bounded with <see cref="BoundedCall"/>.
/// </remarks>
internal sealed partial class ResilientRateLimitStore : IResilientRateLimitStore
{
    private static readonly TimeSpan s_minimumRetryAfter = TimeSpan.FromSeconds(1);

    // The buffer copies of an abandoned call go back to the pool once the store is done with them.
    private static readonly Action<object?> s_returnBuffers = static buffers => ((StoreCallBuffers)buffers!).Return();

    private readonly IRateLimitStore _store;
    private readonly InMemoryRateLimitStore _fallback;
    private readonly bool _storeIsLocal;
    private readonly TimeSpan _timeout;
    private readonly LocalFallback _local;
    private readonly TimeProvider _timeProvider;
    private readonly StoreCircuitBreaker _breaker;
    private readonly EmailGuardMetrics? _metrics;
    private readonly ILogger _logger;
    private Task _writeBack = Task.CompletedTask;

    public ResilientRateLimitStore(
        IRateLimitStore store,
        StoreResilienceOptions options,
        TimeProvider timeProvider,
        ILogger<ResilientRateLimitStore>? logger = null,
        EmailGuardMetrics? metrics = null,
        InMemoryRateLimitStoreOptions? fallbackOptions = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _timeProvider = timeProvider;
        _timeout = options.Timeout;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _breaker = new StoreCircuitBreaker(options, timeProvider);
        _metrics?.ObserveBreaker(_breaker);

        // The in-memory store answers synchronously and cannot fail, so it needs neither buffer copies nor a fallback.
        _storeIsLocal = store is InMemoryRateLimitStore;
        fallbackOptions ??= new InMemoryRateLimitStoreOptions();
        _fallback = store as InMemoryRateLimitStore
            ?? new InMemoryRateLimitStore(fallbackOptions, timeProvider, _logger, metrics, InMemoryRateLimitStore.LocalFallbackName);
        _local = new LocalFallback(_fallback, options.InstanceCount, options.InstanceIndex, fallbackOptions.MaxTrackedKeys, timeProvider, _logger);
    }

    /// <summary>The store behind this wrapper.</summary>
    public IRateLimitStore Store => _store;

    /// <summary>How long one store call may take; the other calls on the request path (state, tenant limits) share it.</summary>
    public TimeSpan Timeout => _timeout;

    /// <summary>The state of the circuit in front of the store.</summary>
    public StoreCircuitState CircuitState => _breaker.State;

    internal StoreCircuitBreaker Breaker => _breaker;

    /// <summary>The in-memory store that enforces <see cref="StoreFailureMode.LocalFallback"/>.</summary>
    internal InMemoryRateLimitStore LocalStore => _fallback;

    /// <summary>The local fallback: shares, what the store said before an outage, and the write-back after it.</summary>
    internal LocalFallback Local => _local;

    /// <summary>The latest write-back of local admits to the store; tests await it.</summary>
    internal Task WriteBack => Volatile.Read(ref _writeBack);

    /// <inheritdoc/>
    /// <remarks>
    /// The interface's calls come from apps and other packages, which may block on the task: a pending one is handed out
    /// as a <see cref="Task"/>. The send guard calls the methods of this class, whose pending tasks come from a pool.
    /// </remarks>
    ValueTask<RateLimitDecision> IResilientRateLimitStore.AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken)
        => PooledTasks.Blockable(AcquireAsync(requests, results, failureMode, cancellationToken));

    /// <inheritdoc/>
    ValueTask<RateLimitDecision> IResilientRateLimitStore.ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests, TimeSpan maxWait, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken)
        => PooledTasks.Blockable(ReserveAsync(requests, maxWait, results, failureMode, cancellationToken));

    /// <inheritdoc/>
    ValueTask<RateLimitDecision> IResilientRateLimitStore.PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
        => PooledTasks.Blockable(PeekAsync(requests, results, cancellationToken));

    /// <summary>Acquires, as <see cref="IResilientRateLimitStore.AcquireAsync"/>; a pending task comes from a pool: await it once, never block on it.</summary>
    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, CancellationToken cancellationToken = default)
        => AcquireAsync(requests, results, failureMode, null, cancellationToken);

    /// <summary>
    /// Acquires within a check's store time budget: the call waits only what is left of it, and is not made at all once
    /// it is spent (the failure mode answers, as a timeout would have). Without a budget the call gets the whole timeout.
    /// </summary>
    public ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, StoreTimeBudget? budget, CancellationToken cancellationToken = default)
    {
        if (_storeIsLocal)
        {
            return CallLocal(StoreOperation.Acquire, requests, results, failureMode, TimeSpan.Zero, cancellationToken);
        }

        RateLimitValidation.ValidateRequests(requests.Span, results.Length, allowZeroCost: false);
        return DecideAsync(StoreOperation.Acquire, requests, results, failureMode, TimeSpan.Zero, budget, cancellationToken);
    }

    /// <summary>Reads usage without taking permits; when the store cannot answer, the decision is <see cref="RateLimitStatus.StoreUnavailable"/>.</summary>
    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, CancellationToken cancellationToken = default)
        => PeekAsync(requests, results, null, cancellationToken);

    /// <summary>Reads usage within a check's store time budget, as <see cref="AcquireAsync(ReadOnlyMemory{RateLimitRequest}, Memory{RateLimitEntry}, StoreFailureMode, StoreTimeBudget?, CancellationToken)"/> acquires.</summary>
    public ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreTimeBudget? budget, CancellationToken cancellationToken = default)
    {
        if (_storeIsLocal)
        {
            return CallLocal(StoreOperation.Peek, requests, results, StoreFailureMode.FailClosed, TimeSpan.Zero, cancellationToken);
        }

        RateLimitValidation.ValidateRequests(requests.Span, results.Length, allowZeroCost: true);
        return DecideAsync(StoreOperation.Peek, requests, results, StoreFailureMode.FailClosed, TimeSpan.Zero, budget, cancellationToken);
    }

    // maxWait: for a reservation, how far ahead a slot may be reserved; ignored otherwise. budget: the check's store
    // time budget, or null for a call of its own that gets the whole timeout. Its state machine comes from a pool: every
    // call of a remote store goes through here, and the send guard awaits its task once.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RateLimitDecision> DecideAsync(
        StoreOperation operation, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, TimeSpan maxWait, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (budget is { IsSpent: true })
        {
            // Earlier waits of the check spent its time: the call is not made, so the breaker hears nothing of it (the
            // store was not tried), and the caller gets what a timeout would have given it.
            LogBudgetSpent(_logger, EmailGuardMetrics.OperationName(operation), budget.Timeout, failureMode);
            _metrics?.RecordFallback(operation, failureMode, circuitOpen: false);
            return await ApplyFailureModeAsync(requests, results, failureMode, cancellationToken).ConfigureAwait(false);
        }

        StoreCallPermit permit = Enter();
        if (permit != StoreCallPermit.Rejected)
        {
            if (operation is StoreOperation.Acquire or StoreOperation.Reserve && failureMode == StoreFailureMode.LocalFallback && _local.HasPendingWriteBacks
                && (permit == StoreCallPermit.Probe || _breaker.ConsecutiveFailures == 0))
            {
                // Local admits of these counters go back to the store before it decides them again, so that an
                // outage's window is not spent a second time: on the probe that ends an outage, and on any call while
                // the store is answering. Not while calls are failing, so an outage costs no extra store calls.
                await WriteBackBeforeAsync(requests, budget).ConfigureAwait(false);
            }

            // An async method, so that the activity made current here never leaks into the caller's context. The
            // remote call is inlined here rather than awaited as a second async method: this runs on every request.
            using Activity? activity = StartActivity(operation, requests.Length);
            long started = _timeProvider.GetTimestamp();
            StoreCallBuffers buffers = StoreCallBuffers.Rent(requests.Span, results.Length);
            bool abandoned = false;
            try
            {
                if (budget is { IsSpent: true })
                {
                    // The write-back before this call spent the check's time: the store was tried under this permit
                    // and did not answer in time, which is a timeout of this call.
                    throw new TimeoutException();
                }

                // The store gets the caller's token: a call cancelled before it is sent takes nothing, and one
                // cancelled in flight gives back what it took. A decision it reached just before it saw the
                // cancellation is given back here (GiveBackWhenCancelled).
                ValueTask<RateLimitDecision> pending = Call(operation, buffers.Requests, buffers.Results, maxWait, cancellationToken);
                RateLimitDecision decision;
                if (pending.IsCompletedSuccessfully)
                {
                    decision = pending.Result;
                }
                else
                {
                    Task<RateLimitDecision> task = pending.AsTask();
                    try
                    {
                        // The store client's own timeouts (seconds, for StackExchange.Redis) are far too long for a
                        // request; the wait is cut here, on the app's TimeProvider, whatever the store does.
                        decision = await task.WaitAsync(StoreTimeBudget.Wait(budget, _timeout), _timeProvider, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (operation != StoreOperation.Peek && cancellationToken.IsCancellationRequested)
                    {
                        abandoned = true;
                        GiveBackWhenCancelled(task, buffers);
                        throw;
                    }
                    catch (TimeoutException) when (operation != StoreOperation.Peek && failureMode != StoreFailureMode.FailOpen)
                    {
                        // The caller is answered by the failure mode, which does not admit on this call's behalf (fail-closed
                        // denies; the local fallback decides, and writes its own admits back), so a late admission by the
                        // store would charge a permit nobody used: it is given back when the reply comes. Under fail-open the
                        // caller sends unguarded, and the late admission stays: it counts a send that went out. The call may
                        // have completed between the wait's timeout and here (a reply just in), so its state is not asked:
                        // the give-back reads its outcome, and gives back only an admission (a call that failed by itself,
                        // with a timeout of its own or not, took nothing the wrapper knows of).
                        abandoned = true;
                        GiveBackWhenCancelled(task, buffers);
                        throw;
                    }
                    catch
                    {
                        abandoned = true;
                        BoundedCall.Abandon(task, s_returnBuffers, buffers);
                        throw;
                    }
                }

                buffers.CopyResultsTo(results.Span);
                Completed(operation, permit, started, activity, null, heardFromStore: !decision.AnsweredFromCache);
                if (failureMode == StoreFailureMode.LocalFallback)
                {
                    AfterSharedDecision(operation, requests.Span, results.Span, decision);
                }

                return decision;
            }
            catch (RateLimitStoreBusyException ex)
            {
                failureMode = StoreBusy(operation, permit, _timeProvider.GetElapsedTime(started), ex);
            }
            catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
            {
                Completed(operation, permit, started, activity, ex);
            }
            catch
            {
                _breaker.Abandon(permit);
                throw;
            }
            finally
            {
                if (!abandoned)
                {
                    buffers.Return();
                }
            }
        }

        _metrics?.RecordFallback(operation, failureMode, circuitOpen: permit == StoreCallPermit.Rejected);
        return await ApplyFailureModeAsync(requests, results, failureMode, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The in-memory store decides synchronously in microseconds and has nothing to time out or to break, so it is
    /// called directly: no timer, no breaker, no state machine. Only a bug in it could throw, and even that becomes the
    /// failure mode.
    /// </summary>
    private ValueTask<RateLimitDecision> CallLocal(
        StoreOperation operation, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        try
        {
            // The sealed store itself, not the interface: no dispatch stub on every check.
            return operation switch
            {
                StoreOperation.Acquire => _fallback.AcquireAsync(requests, results, cancellationToken),
                StoreOperation.Reserve => _fallback.ReserveAsync(requests, maxWait, results, cancellationToken),
                _ => _fallback.PeekAsync(requests, results, cancellationToken),
            };
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            return CallLocalFailed(operation, requests, results, failureMode, ex, cancellationToken);
        }
    }

    /// <summary>The in-memory store threw (a bug in it): logged, and the failure mode decides; the local fallback would be the same store, so it fails closed.</summary>
    private ValueTask<RateLimitDecision> CallLocalFailed(
        StoreOperation operation, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, Exception exception, CancellationToken cancellationToken)
    {
        LogStoreFailure(_logger, EmailGuardMetrics.OperationName(operation), LogValue.Of(exception));
        _metrics?.RecordFallback(operation, failureMode, circuitOpen: false);
        return ApplyFailureModeAsync(requests, results, failureMode == StoreFailureMode.LocalFallback ? StoreFailureMode.FailClosed : failureMode, cancellationToken);
    }

    /// <summary>Whether the store is the in-memory one, which <see cref="AcquireLocal"/> calls synchronously.</summary>
    internal bool IsLocal => _storeIsLocal;

    /// <summary>
    /// <see cref="AcquireAsync(ReadOnlyMemory{RateLimitRequest}, Memory{RateLimitEntry}, StoreFailureMode, CancellationToken)"/> on the in-memory store (<see cref="IsLocal"/>) for a caller that is not cancelled,
    /// answered without a task: the store's decision, or, should the store throw, the failure mode's, exactly as
    /// <see cref="CallLocal"/> decides. A decision holds no references, so unlike a task of one it costs its caller's
    /// frame no zeroing and its copies no write barriers.
    /// </summary>
    /// <param name="requests">The requests.</param>
    /// <param name="results">The results buffer.</param>
    /// <param name="systemTick">
    /// <see cref="Environment.TickCount64"/> read moments ago by the caller, which the store takes instead of reading
    /// it again (see <see cref="InMemoryRateLimitStore.Acquire(ReadOnlySpan{RateLimitRequest}, Span{RateLimitEntry}, long)"/>).
    /// </param>
    /// <param name="failureMode">What to answer should the store throw.</param>
    /// <param name="cancellationToken">The caller's token, not cancelled.</param>
    internal RateLimitDecision AcquireLocal(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, long systemTick, StoreFailureMode failureMode, CancellationToken cancellationToken)
    {
        Debug.Assert(_storeIsLocal && !cancellationToken.IsCancellationRequested, "Only the in-memory store answers at once, and only a caller not cancelled.");
        try
        {
            return _fallback.Acquire(requests.Span, results.Span, systemTick);
        }
        catch (Exception ex) when (IsStoreFailure(ex, cancellationToken))
        {
            return AcquireLocalFailed(requests, results, failureMode, ex, cancellationToken);
        }
    }

    /// <summary><see cref="AcquireLocal"/>'s answer when the store threw.</summary>
    /// <remarks>Not inlined: the failure's task would be a local of the check that inlines <see cref="AcquireLocal"/>, zeroed on every check.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private RateLimitDecision AcquireLocalFailed(
        ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, StoreFailureMode failureMode, Exception exception, CancellationToken cancellationToken)
    {
        // FailOpen and FailClosed (CallLocal's answer for the local fallback, which would be this same store) decide at once.
        ValueTask<RateLimitDecision> failed = CallLocalFailed(StoreOperation.Acquire, requests, results, failureMode, exception, cancellationToken);
        Debug.Assert(failed.IsCompletedSuccessfully, "FailOpen and FailClosed decide synchronously.");
        return failed.Result;
    }

    private ValueTask<RateLimitDecision> Call(
        StoreOperation operation, ReadOnlyMemory<RateLimitRequest> requests, Memory<RateLimitEntry> results, TimeSpan maxWait, CancellationToken cancellationToken)
        => operation switch
        {
            StoreOperation.Acquire => _store.AcquireAsync(requests, results, cancellationToken),
            StoreOperation.Reserve => _store.ReserveAsync(requests, maxWait, results, cancellationToken),
            _ => _store.PeekAsync(requests, results, cancellationToken),
        };

    private StoreCallPermit Enter()
    {
        StoreCallPermit permit = _breaker.TryEnter();
        if (permit == StoreCallPermit.Probe)
        {
            LogCircuitHalfOpened(_logger);
        }

        return permit;
    }

    /// <summary>Bad input stays the caller's bug, and the caller's own cancellation is the caller's; anything else is the store failing.</summary>
    private static bool IsStoreFailure(Exception exception, CancellationToken cancellationToken)
        => exception is not ArgumentException
           && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested);
}
