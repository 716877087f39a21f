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
    /// Checks a message as <see cref="CheckAsync"/> does, but when only token-bucket rules (a provider's send rate)
    /// are short, reserves the earliest slot within <see cref="SendGuardOptions.MaxReservationWait"/> instead of
    /// denying: the decision is allowed and <see cref="EmailSendDecision.SendAt"/> says when to send. For queue workers
    /// that should send every legitimate message at the provider's pace rather than retry.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Every dimension takes part in one atomic reservation, as in a check: nothing is reserved unless every rule has
    /// room at the reserved time. Invalid addresses, blocklists, suspensions and content rules deny at once, as in a
    /// check; a full fixed or sliding window (a tenant's hourly cap) denies with its retry-after, since its room comes
    /// back only when its window ends (see <see cref="IRateLimitStore.ReserveAsync"/> for which rules can wait).
    /// </para>
    /// <para>
    /// Cancel a reservation that will not be used with <see cref="RefundAsync"/>: it gives the slot back, and the
    /// ratio breakers' count of the send, which the reservation took in its own store call (a refunded check keeps
    /// its send counted: it was attempted). A store failure decides now by <see cref="SendGuardOptions.FailureMode"/>,
    /// as for a check; no later slot is promised then.
    /// The default implementation, for guards written before reservations existed, is <see cref="CheckAsync"/>.
    /// </para>
    /// </remarks>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the reservation; a cancelled reservation takes nothing.</param>
    /// <returns>The decision; when allowed, send at <see cref="EmailSendDecision.SendAt"/>.</returns>
    ValueTask<EmailSendDecision> ReserveAsync(OutboundEmail message, CancellationToken cancellationToken = default)
        => CheckAsync(message, cancellationToken);

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

    /// <summary>
    /// Reads the provider budget, without taking anything: every global (provider) rule's limit, use and remainder in
    /// the current window and, where <see cref="SendGuardOptions.FairShare"/> applies, whether the budget is contended,
    /// the active tenants, and each one's weight, share and use. Every instance reads the same shared counters.
    /// </summary>
    /// <remarks>
    /// For an admin screen: one or two peeks of the rate-limit store, one read of the key-value store per listed tenant
    /// (at most <see cref="EmailProviderBudgetRule.MaxListedTenants"/>), and the tenants' weights from the tenant limit
    /// provider's cache, asking the provider for those this instance has not looked up yet (up to 16 at a time, each
    /// within the provider timeout, a slow answer giving the default weight). Never throws for the store: <see cref="EmailProviderBudget.IsStoreAvailable"/> is false when
    /// the counters could not be read. The default implementation, for guards written before it existed, reports an
    /// unavailable store.
    /// </remarks>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The provider budget.</returns>
    ValueTask<EmailProviderBudget> GetProviderBudgetAsync(CancellationToken cancellationToken = default)
        => new(new EmailProviderBudget([], default, isStoreAvailable: false, isFairShareEnabled: false));
}
