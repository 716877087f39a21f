namespace EmailGuard;

/// <summary>
/// Rate-limit counters that admit a set of permit requests atomically: all of them or none.
/// </summary>
/// <remarks>
/// <para>
/// A denial is a normal outcome, returned as a value. Invalid arguments throw <see cref="ArgumentException"/> before
/// any counter moves. A store that cannot reach its backend throws; the send guard and the endpoint middleware turn
/// that into their configured failure mode.
/// </para>
/// <para>
/// Implementations must make identical decisions for identical calls at identical times, so that an app behaves the
/// same on the in-memory store and on Redis.
/// </para>
/// </remarks>
public interface IRateLimitStore
{
    /// <summary>
    /// Takes every request's cost if every rule has room for it, else takes nothing.
    /// </summary>
    /// <param name="requests">The requests; a key may appear more than once, and its costs add up.</param>
    /// <param name="results">
    /// Receives one entry per request, in order. Either empty (the caller wants only the decision) or at least as long
    /// as <paramref name="requests"/>.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The decision.</returns>
    /// <exception cref="ArgumentException">A request is invalid (empty or over-long key, missing rule, cost below 1) or the results buffer is too short.</exception>
    ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Decides as <see cref="AcquireAsync"/> would, but takes nothing. A cost of 0 reads the current usage.
    /// </summary>
    /// <param name="requests">The requests; costs may be 0.</param>
    /// <param name="results">Receives one entry per request, as for <see cref="AcquireAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>What an acquire would decide now.</returns>
    ValueTask<RateLimitDecision> PeekAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives back the permits of an admitted acquire, e.g. when the mail provider refused the message.
    /// </summary>
    /// <remarks>
    /// <para>
    /// At most once per acquire: the store records <see cref="RateLimitDecision.AcquisitionId"/> for as long as the
    /// permits could count, and a second refund of the same decision, or of any copy of it, gives nothing back. A
    /// decision that is not <see cref="RateLimitDecision.IsRefundable"/> (a peek, a denial, an unguarded admission,
    /// the <see langword="default"/> value) gives nothing back.
    /// </para>
    /// <para>
    /// Permits whose window or segment has already passed are not given back, since they no longer count; nor are
    /// permits of a counter that was reset (or otherwise started over) after the acquire, since the counter that holds
    /// them now counts only later acquires.
    /// </para>
    /// </remarks>
    /// <param name="requests">The requests that were admitted, with the same costs.</param>
    /// <param name="decision">The admitted decision, as the store returned it (or a copy).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// <see langword="true"/> when this call refunded the acquire; <see langword="false"/> when the decision is not
    /// refundable or was refunded before.
    /// </returns>
    ValueTask<bool> RefundAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        RateLimitDecision decision,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Reserves the earliest time, at most <paramref name="maxWait"/> from now, at which every request fits, and takes
    /// the permits for that time: all of them or none, atomically, as <see cref="AcquireAsync"/> does. A queue sends the
    /// message at the decision's <see cref="RateLimitDecision.Timestamp"/> instead of retrying.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Only a <see cref="RateLimitAlgorithm.TokenBucket"/> can promise a later time: its permits come back one by one at
    /// known instants. A fixed or sliding window that is full now denies the reservation, as an acquire would (its
    /// room comes back all at once when the window or segment ends, and the store keeps no counter for a window that
    /// has not begun); one with room takes part, provided the reserved time still falls in its current window (fixed)
    /// or segment (sliding), so that its permits count when they are used. Otherwise, and when the time would be
    /// further than <paramref name="maxWait"/>, the reservation is denied as an acquire now would be, with its
    /// retry-after.
    /// </para>
    /// <para>
    /// A window rule whose limit is <see cref="RateLimitRule.MaxLimit"/> is a counter: no caller reaches its limit, so
    /// it cannot deny. A counter takes part in any reservation, wherever the reserved time lies: it counts its permits
    /// at the decision's time, in the window or segment of now (<see cref="RateLimitDecision.DecidedAt"/>), and never
    /// moves the reserved time. Window rules count in the window or segment of <see cref="RateLimitDecision.DecidedAt"/>
    /// and token buckets at the reserved <see cref="RateLimitDecision.Timestamp"/>.
    /// </para>
    /// <para>
    /// Cancel an admitted reservation with <see cref="RefundAsync"/>, passing the same requests and the decision: a
    /// token bucket gets its slot back unless later reservations were already queued behind it (they keep the times
    /// they were promised, so the slot stays taken); window rules, counters included, get their permits back in the
    /// window or segment they were counted in.
    /// </para>
    /// <para>
    /// The default implementation, for stores written before reservations existed, is <see cref="AcquireAsync"/>: it
    /// reserves now or not at all, which never lets a rule be exceeded.
    /// </para>
    /// </remarks>
    /// <param name="requests">The requests, as for <see cref="AcquireAsync"/>.</param>
    /// <param name="maxWait">How far ahead a slot may be reserved, from zero to <see cref="RateLimitRule.MaxWindow"/> (whole milliseconds count).</param>
    /// <param name="results">Receives one entry per request, as for <see cref="AcquireAsync"/>, computed at the reserved time.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// An admitted decision whose <see cref="RateLimitDecision.Timestamp"/> is the reserved time (now or later), or a
    /// denial as <see cref="AcquireAsync"/> would return now.
    /// </returns>
    /// <exception cref="ArgumentException">A request is invalid, the results buffer is too short, or the wait is out of range.</exception>
    ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        TimeSpan maxWait,
        Memory<RateLimitEntry> results,
        CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateMaxWait(maxWait);
        return AcquireAsync(requests, results, cancellationToken);
    }

    /// <summary>
    /// Clears the counter of one key under one rule shape.
    /// </summary>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule whose counter to clear (any rule of the same shape clears the same counter).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the counter is gone.</returns>
    ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default);
}
