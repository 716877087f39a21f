namespace EmailGuard;

/// <summary>
/// Sends through the registered <see cref="IEmailTransport"/> only what the send guard allows, and gives the permits
/// back when the transport fails.
/// </summary>
public interface IGuardedEmailSender
{
    /// <summary>Checks the message and sends it when allowed; a denial is returned, not thrown.</summary>
    /// <param name="envelope">Sender, recipients and the guard's dimensions.</param>
    /// <param name="content">Subject and body: what the content rules and the content inspector judge, whatever <see cref="OutboundEmail.Content"/> holds.</param>
    /// <param name="cancellationToken">Cancels the check and the send.</param>
    /// <returns>Whether it was sent, and the guard's decision.</returns>
    /// <exception cref="Exception">The transport failed; the permits were refunded and its exception propagates.</exception>
    /// <exception cref="OperationCanceledException">The send was cancelled; its permits stay taken, since the provider may have it. They stay taken too when the transport throws anything else after the token was cancelled.</exception>
    ValueTask<GuardedSendResult> TrySendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default);

    /// <summary>Checks the message and sends it when allowed.</summary>
    /// <param name="envelope">Sender, recipients and the guard's dimensions.</param>
    /// <param name="content">Subject and body: what the content rules and the content inspector judge, whatever <see cref="OutboundEmail.Content"/> holds.</param>
    /// <param name="cancellationToken">Cancels the check and the send.</param>
    /// <returns>The guard's decision for the sent message.</returns>
    /// <exception cref="EmailSendDeniedException">The guard denied the message; nothing was sent.</exception>
    ValueTask<EmailSendDecision> SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default);
}
