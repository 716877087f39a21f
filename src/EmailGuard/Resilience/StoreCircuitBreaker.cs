namespace EmailGuard;

/// <summary>
/// A circuit breaker for store calls. Closed, it lets calls through and counts failures; after
/// <see cref="StoreResilienceOptions.ConsecutiveFailureThreshold"/> failures in a row, or a
/// <see cref="StoreResilienceOptions.FailureRatio"/> of failures within the sampling window, it opens and rejects calls
/// for <see cref="StoreResilienceOptions.BreakDuration"/>; then it lets exactly one probe through (half-open), which
/// closes it on success and opens it again on failure.
/// </summary>
/// <remarks>
/// The closed path reads one volatile field on entry and, on success, bumps one interlocked counter: no lock and no
/// allocation, since it runs on every request. Failures and transitions take a lock; they are rare by definition,
/// or the circuit would be open. A result that arrives for a call started in an earlier state is ignored, as in
/// Polly: only time moves an open circuit to half-open, and only the probe decides the half-open state.
/// </remarks>
internal sealed class StoreCircuitBreaker
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly StoreFailureWindow _window;
    private readonly int _consecutiveFailureThreshold;
    private readonly double _failureRatio;
    private readonly int _minimumThroughput;
    private readonly long _breakDuration;
    private int _state;
    private int _consecutiveFailures;
    private long _openUntil;

    public StoreCircuitBreaker(StoreResilienceOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        _consecutiveFailureThreshold = options.ConsecutiveFailureThreshold;
        _failureRatio = options.FailureRatio;
        _minimumThroughput = options.MinimumThroughput;
        _breakDuration = ToTimestamp(options.BreakDuration);
        BreakDuration = options.BreakDuration;
        _window = new StoreFailureWindow(ToTimestamp(options.SamplingDuration));
    }

    public StoreCircuitState State => (StoreCircuitState)Volatile.Read(ref _state);

    public TimeSpan BreakDuration { get; }

    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>How long until an open circuit lets a probe through; zero when it is not open or the time has come.</summary>
    public TimeSpan RemainingBreak
    {
        get
        {
            if (State != StoreCircuitState.Open)
            {
                return TimeSpan.Zero;
            }

            long remaining = Volatile.Read(ref _openUntil) - _timeProvider.GetTimestamp();
            return remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)remaining / _timeProvider.TimestampFrequency);
        }
    }

    public StoreCallPermit TryEnter()
    {
        return Volatile.Read(ref _state) == (int)StoreCircuitState.Closed
            ? StoreCallPermit.Closed
            : TryEnterSlow();
    }

    /// <summary>Records a successful call. Returns whether it closed the circuit.</summary>
    public bool OnSuccess(StoreCallPermit permit)
    {
        if (permit == StoreCallPermit.Probe)
        {
            lock (_lock)
            {
                if (_state != (int)StoreCircuitState.HalfOpen)
                {
                    return false;
                }

                Volatile.Write(ref _consecutiveFailures, 0);
                _window.Clear();
                Volatile.Write(ref _state, (int)StoreCircuitState.Closed);
                return true;
            }
        }

        if (permit == StoreCallPermit.Closed && Volatile.Read(ref _state) == (int)StoreCircuitState.Closed)
        {
            if (Volatile.Read(ref _consecutiveFailures) != 0)
            {
                Volatile.Write(ref _consecutiveFailures, 0);
            }

            _window.RecordSuccess(_timeProvider.GetTimestamp());
        }

        return false;
    }

    /// <summary>Records a failed call (an exception or a timeout). Returns whether it opened the circuit.</summary>
    public bool OnFailure(StoreCallPermit permit)
    {
        long now = _timeProvider.GetTimestamp();
        lock (_lock)
        {
            if (permit == StoreCallPermit.Probe)
            {
                if (_state != (int)StoreCircuitState.HalfOpen)
                {
                    return false;
                }

                Open(now);
                return true;
            }

            if (permit != StoreCallPermit.Closed || _state != (int)StoreCircuitState.Closed)
            {
                return false;
            }

            int consecutive = Interlocked.Increment(ref _consecutiveFailures);
            _window.RecordFailure(now);
            if (consecutive < _consecutiveFailureThreshold && !RatioExceeded(now))
            {
                return false;
            }

            Open(now);
            return true;
        }
    }

    /// <summary>
    /// A probe that ended without a verdict (the caller cancelled, or passed bad input) hands the probe to the next
    /// caller instead of leaving the circuit half-open forever.
    /// </summary>
    public void Abandon(StoreCallPermit permit)
    {
        if (permit != StoreCallPermit.Probe)
        {
            return;
        }

        lock (_lock)
        {
            if (_state == (int)StoreCircuitState.HalfOpen)
            {
                Volatile.Write(ref _state, (int)StoreCircuitState.Open);
            }
        }
    }

    private StoreCallPermit TryEnterSlow()
    {
        if (Volatile.Read(ref _state) != (int)StoreCircuitState.Open
            || _timeProvider.GetTimestamp() < Volatile.Read(ref _openUntil))
        {
            return StoreCallPermit.Rejected;
        }

        lock (_lock)
        {
            if (_state != (int)StoreCircuitState.Open || _timeProvider.GetTimestamp() < _openUntil)
            {
                return StoreCallPermit.Rejected;
            }

            Volatile.Write(ref _state, (int)StoreCircuitState.HalfOpen);
            return StoreCallPermit.Probe;
        }
    }

    private bool RatioExceeded(long now)
    {
        (int calls, int failures) = _window.Totals(now);
        return calls >= _minimumThroughput && failures >= _failureRatio * calls;
    }

    private void Open(long now)
    {
        Volatile.Write(ref _openUntil, now + _breakDuration);
        Volatile.Write(ref _state, (int)StoreCircuitState.Open);
    }

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * _timeProvider.TimestampFrequency);
}
