namespace EmailGuard;

/// <summary>
/// The check an application makes before it queues a message and again before it hands the message to the mail
/// provider: every applicable dimension in one atomic acquire, after address validation, blocklists and flags.
/// </summary>
/// <remarks>
/// No check waits on a store longer than <see cref="StoreResilienceOptions.Timeout"/> per call, and none throws because
/// of a store failure: the configured <see cref="SendGuardOptions.FailureMode"/> applies. Blocklists and flags come from
/// a snapshot refreshed in the background; a check made before the first snapshot was loaded follows the failure mode
/// too. Only <see cref="GetStatusAsync"/> can throw for the store, <see cref="EmailGuardStoreUnavailableException"/>.
/// </remarks>
public interface IEmailSendGuard
{
    /// <summary>
    /// Checks a message and, when it is allowed, takes its permits in every dimension at once. When any rule has no
    /// room, nothing is taken.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The decision.</returns>
    ValueTask<EmailSendDecision> CheckAsync(OutboundEmail message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Decides as <see cref="CheckAsync"/> would now, without taking anything.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>What a check would decide.</returns>
    ValueTask<EmailSendDecision> PeekAsync(OutboundEmail message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives back the permits of an allowed decision, e.g. when the provider refused the message. A decision is
    /// refunded at most once, even when it was copied; a peek, a denial or an unguarded admission is never refunded; a
    /// decision of the local fallback is refunded to the local store. Permits whose window has already passed, or
    /// whose counter was reset since, are not given back, since they no longer count.
    /// </summary>
    /// <param name="decision">A decision returned by <see cref="CheckAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the refund.</param>
    /// <returns>Whether the decision was refunded by this call (false for a decision that is not <see cref="EmailSendDecision.IsRefundable"/>, one refunded before, or when the store failed).</returns>
    ValueTask<bool> RefundAsync(EmailSendDecision decision, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the current usage of every rule of the global scope and of each party named in the query, plus the
    /// active flags of the tenant and the user, without taking anything.
    /// </summary>
    /// <param name="query">The parties to report on.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The status; <see cref="EmailGuardStatus.IsStoreAvailable"/> is false when the counters could not be read.</returns>
    /// <exception cref="EmailGuardStoreUnavailableException">Lists and flags were never loaded since startup, so the flags are unknown.</exception>
    ValueTask<EmailGuardStatus> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default);
}
