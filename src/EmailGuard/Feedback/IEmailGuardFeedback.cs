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
    /// store for <c>EmailGuard:Feedback:AttributionLifetime</c> (14 days by default).
    /// </summary>
    ValueTask TrackAsync(string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default);
}
