namespace EmailGuard;

/// <summary>
/// Brings provider feedback in: bounces, complaints, deliveries and unsubscribes. The webhook endpoints of
/// EmailGuard.AspNetCore call it; apps that poll a provider API or read a queue (SQS, a Mailgun events poll) call it
/// directly.
/// </summary>
public interface IEmailGuardFeedback
{
    /// <summary>
    /// Records one event: deduplicates it by provider event id across every instance, charges it to its attribution,
    /// and suppresses the recipient where the suppression rules say so. Invalid events throw
    /// <see cref="ArgumentException"/>; a store outage answers <see cref="EmailFeedbackOutcome.StoreUnavailable"/>.
    /// </summary>
    ValueTask<EmailFeedbackResult> RecordAsync(EmailFeedbackEvent feedback, CancellationToken cancellationToken = default);

    /// <summary>
    /// Remembers which attribution a provider message id belongs to, for feedback that does not echo tags. Kept in the
    /// store for <c>EmailGuard:Feedback:AttributionLifetime</c> (14 days by default), with the time of the call: call it when
    /// the message is sent, as the guarded senders do. That time dates the message's feedback for a ratio breaker's
    /// half-open probe (<see cref="EmailFeedbackEvent.SentAt"/>); a later send tracked under the same id moves it forward.
    /// </summary>
    ValueTask TrackAsync(string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default);

    /// <summary>
    /// Remembers which attribution a provider message id belongs to, for that provider's feedback only: an event of
    /// another provider that names the same id (providers choose ids independently, and some take the app's
    /// <c>Message-ID</c>) does not find it. Prefer it to <see cref="TrackAsync"/> whenever the provider is known. The
    /// default implementation, for implementations written before this method, calls <see cref="TrackAsync"/>: the
    /// mapping is then every provider's.
    /// </summary>
    /// <param name="provider">
    /// The provider's name as its feedback names it (<see cref="EmailFeedbackEvent.Provider"/>), such as <c>ses</c>. The
    /// message is sent by then, so EmailGuard's implementation does not throw for a name that is not valid (1 to 32
    /// lower-case ASCII letters, digits, <c>_</c> or <c>-</c>): it logs warning 2985 and maps the id for every provider.
    /// </param>
    /// <param name="providerMessageId">The provider's id for the message.</param>
    /// <param name="attribution">Who caused the message.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the mapping is written, or its failure logged.</returns>
    ValueTask TrackForProviderAsync(string provider, string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default)
        => TrackAsync(providerMessageId, attribution, cancellationToken);
}
