namespace EmailGuard;

/// <summary>
/// The application's way of handing a message to its provider (SES, Mailgun, SMTP …). Register it and resolve
/// <see cref="IGuardedEmailSender"/> instead, so that every send is checked by the send guard first.
/// </summary>
public interface IEmailTransport
{
    /// <summary>
    /// Hands the message to the provider. Throw when the provider refuses it, so its permits are refunded. An
    /// <see cref="OperationCanceledException"/>, or any exception once the token is cancelled, refunds nothing: the
    /// message may have been handed over before the cancellation was seen.
    /// </summary>
    /// <param name="envelope">Sender, recipients and the guard's dimensions.</param>
    /// <param name="content">Subject and body.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>A task that completes when the provider accepted the message.</returns>
    ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken);

    /// <summary>
    /// Hands the message to the provider and returns the provider's id for it (the SES <c>MessageId</c>, the Mailgun
    /// <c>id</c>, the SendGrid <c>X-Message-Id</c>, the Postmark <c>MessageID</c>), so that the guarded sender can map
    /// it to the message's attribution (<see cref="IEmailGuardFeedback.TrackAsync"/>) for feedback that echoes no tags.
    /// Implement it when the provider returns an id, and have <see cref="SendAsync"/> call it; set
    /// <see cref="EmailSendContext.Provider"/> to the provider's name too, so that the id is mapped for that provider's
    /// feedback only (ids of different providers can collide). The default calls
    /// <see cref="SendAsync"/> and returns <see cref="EmailSendContext.ProviderMessageId"/> when the transport set it, else
    /// <see langword="null"/>.
    /// </summary>
    /// <param name="envelope">Sender, recipients and the guard's dimensions.</param>
    /// <param name="content">Subject, body, headers and provider tags.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>The provider's message id, or <see langword="null"/> when it gives none.</returns>
    async ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
    {
        await SendAsync(envelope, content, cancellationToken).ConfigureAwait(false);
        return EmailSendContext.Current?.ProviderMessageId;
    }
}
