namespace EmailGuard;

/// <summary>
/// One check's time for waiting on its stores (<see cref="StoreResilienceOptions.Timeout"/>): the first bounded wait
/// of the check starts it, and every later wait of the same check gets only what is left of it. So a store outage
/// answers a check by its failure mode within one timeout, not one per step (state, tenant limits, fair share,
/// counters, the steps after an admission), each of which would otherwise wait a whole timeout of its own.
/// </summary>
/// <remarks>
/// Not thread-safe: the steps of one check wait one after another. A check that never waits never reads the clock
/// here, and the one the guard keeps with its pooled buffers is reused, so the synchronous path allocates nothing.
/// </remarks>
internal sealed class StoreTimeBudget
{
    private TimeProvider _timeProvider = TimeProvider.System;
    private TimeSpan _timeout;
    private long _startedAt;
    private bool _started;

    public StoreTimeBudget()
    {
    }

    public StoreTimeBudget(TimeSpan timeout, TimeProvider timeProvider) => Reset(timeout, timeProvider);

    /// <summary>
    /// Whether a wait of this check for the app's tenant limit provider ran out: a later lookup of the same check (the
    /// fair share's weight) does not wait for it again. The provider's waits are not part of the budget (see
    /// <see cref="TenantLimitCache"/>), so this bounds them to one timeout per check.
    /// </summary>
    public bool TenantLimitProviderSlow { get; set; }

    /// <summary>The whole budget, as configured.</summary>
    public TimeSpan Timeout => _timeout;

    /// <summary>Whether a wait started the budget and it has run out: a call not yet made should not be made.</summary>
    public bool IsSpent => _started && _timeProvider.GetElapsedTime(_startedAt) >= _timeout;

    /// <summary>Makes this a fresh budget of <paramref name="timeout"/>, not started.</summary>
    public StoreTimeBudget Reset(TimeSpan timeout, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _timeout = timeout;
        _started = false;
        TenantLimitProviderSlow = false;
        return this;
    }

    /// <summary>
    /// How long the wait that begins now may take: the whole budget for the first wait, which starts it; what is left
    /// for a later one, never less than zero (a wait of zero times out at once, as a timeout of that step would).
    /// </summary>
    public TimeSpan Wait()
    {
        if (!_started)
        {
            _startedAt = _timeProvider.GetTimestamp();
            _started = true;
            return _timeout;
        }

        TimeSpan left = _timeout - _timeProvider.GetElapsedTime(_startedAt);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// Leaves the time since <paramref name="timestamp"/> (a <see cref="TimeProvider.GetTimestamp"/> reading) out of the
    /// budget: time the check spent on something else than a store (the app's content inspector, with its own timeout)
    /// does not shorten the store waits after it.
    /// </summary>
    public void Exclude(long timestamp)
    {
        if (_started)
        {
            _startedAt += _timeProvider.GetTimestamp() - timestamp;
        }
    }

    /// <summary><see cref="Wait()"/> of <paramref name="budget"/>, or <paramref name="timeout"/> for a call outside a check.</summary>
    public static TimeSpan Wait(StoreTimeBudget? budget, TimeSpan timeout) => budget is null ? timeout : budget.Wait();
}
