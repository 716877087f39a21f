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
    /// Clears the counter of one key under one rule shape.
    /// </summary>
    /// <param name="key">The partition key.</param>
    /// <param name="rule">The rule whose counter to clear (any rule of the same shape clears the same counter).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the counter is gone.</returns>
    ValueTask ResetAsync(string key, RateLimitRule rule, CancellationToken cancellationToken = default);
}
