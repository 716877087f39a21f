namespace EmailGuard.Sample.Mail;

/// <summary>Hands a mail to whatever delivers it. Called only after the guard admitted the mail.</summary>
public interface IMailTransport
{
    /// <summary>A short description for the outbox page, e.g. "pickup folder /tmp/outbox".</summary>
    string Description { get; }

    Task DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken);
}
