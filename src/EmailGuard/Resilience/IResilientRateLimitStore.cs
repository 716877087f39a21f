namespace EmailGuard;

/// <summary>
/// The registered <see cref="IRateLimitStore"/> as the send guard and the endpoint middleware call it: every call is
/// bounded by <see cref="StoreResilienceOptions.Timeout"/> and passes a circuit breaker, and a store that fails, times
/// out or is behind an open circuit becomes the caller's <see cref="StoreFailureMode"/> instead of an exception.
/// </summary>
/// <remarks>
/// <para>
/// <c>AddEmailGuard()</c> registers it as a singleton around whatever store is registered (see
/// <see cref="Microsoft.Extensions.DependencyInjection.EmailGuardStoreBuilderExtensions.AddRateLimitStore{TStore}(IEmailGuardBuilder)"/>);
/// a store never wraps itself. Resolve it to decide in your own front end (a queue consumer, a gRPC interceptor) the
/// way the middleware does.
/// </para>
/// <para>
/// Only bad input (<see cref="ArgumentException"/>, checked as <see cref="RateLimitValidation"/> does) and the caller's
/// own cancellation escape as exceptions.
/// </para>
/// </remarks>
public interface IResilientRateLimitStore
{
    /// <summary>
    /// Acquires as <see cref="IRateLimitStore.AcquireAsync"/> does; when the store cannot answer in time, decides as
    /// <paramref name="failureMode"/> says: <see cref="RateLimitStatus.AllowedUnguarded"/> (fail open),
    /// <see cref="RateLimitStatus.StoreUnavailable"/> (fail closed), or by this instance's share of the limits (local
    /// fallback).
    /// </summary>
    /// <param name="requests">The requests, admitted all or none.</param>
    /// <param name="results">Receives one entry per request; empty, or at least as long as <paramref name="requests"/>. Cleared when the decision is not the store's.</param>
    /// <param name="failureMode">What to decide when the store cannot answer.</param>
    /// <param name="cancellationToken">Cancels the call; a cancelled acquire takes nothing.</param>
    /// <returns>The decision.</returns>
    ValueTask<RateLimitDecision> AcquireAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        StoreFailureMode failureMode,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Reserves as <see cref="IRateLimitStore.ReserveAsync"/> does: the earliest time, at most
    /// <paramref name="maxWait"/> ahead, at which every request fits, taken atomically; the decision's
    /// <see cref="RateLimitDecision.Timestamp"/> is that time. When the store cannot answer in time,
    /// <paramref name="failureMode"/> decides now, as for <see cref="AcquireAsync"/>: no later time is promised then.
    /// </summary>
    /// <remarks>The default implementation, for wrappers written before reservations existed, acquires now or denies.</remarks>
    /// <param name="requests">The requests, reserved all or none.</param>
    /// <param name="maxWait">How far ahead a slot may be reserved, from zero to <see cref="RateLimitRule.MaxWindow"/>.</param>
    /// <param name="results">Receives one entry per request, as for <see cref="AcquireAsync"/>.</param>
    /// <param name="failureMode">What to decide when the store cannot answer.</param>
    /// <param name="cancellationToken">Cancels the call; a cancelled reservation takes nothing.</param>
    /// <returns>The decision; cancel an admitted one with <see cref="RefundAsync"/>.</returns>
    ValueTask<RateLimitDecision> ReserveAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        TimeSpan maxWait,
        Memory<RateLimitEntry> results,
        StoreFailureMode failureMode,
        CancellationToken cancellationToken = default)
    {
        RateLimitValidation.ValidateMaxWait(maxWait);
        return AcquireAsync(requests, results, failureMode, cancellationToken);
    }

    /// <summary>
    /// Reads usage as <see cref="IRateLimitStore.PeekAsync"/> does, taking nothing; when the store cannot answer, the
    /// decision is <see cref="RateLimitStatus.StoreUnavailable"/>.
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
    /// Gives the permits of an admitted acquire back to the store that admitted them, at most once: a decision of the
    /// local fallback goes back to the local counters, never to the shared store. A refund the store cannot take now
    /// is dropped, which only leaves a limit stricter until its window ends.
    /// </summary>
    /// <param name="requests">The requests that were admitted, with the same costs.</param>
    /// <param name="decision">The admitted decision, as <see cref="AcquireAsync"/> returned it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>Whether this call refunded the acquire.</returns>
    ValueTask<bool> RefundAsync(
        ReadOnlyMemory<RateLimitRequest> requests,
        RateLimitDecision decision,
        CancellationToken cancellationToken = default);
}
