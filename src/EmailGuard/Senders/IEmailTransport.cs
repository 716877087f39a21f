namespace EmailGuard;

/// <summary>
/// The application's way of handing a message to its provider (SES, Mailgun, SMTP …). Register it and resolve
/// <see cref="IGuardedEmailSender"/> instead, so that every send is checked by the send guard first.
/// </summary>
public interface IEmailTransport
{
    /// <summary>Hands the message to the provider. Throw when the provider refuses it, so its permits are refunded.</summary>
    /// <param name="envelope">Sender, recipients and the guard's dimensions.</param>
    /// <param name="content">Subject and body.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>A task that completes when the provider accepted the message.</returns>
    ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken);
}
