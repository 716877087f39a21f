namespace EmailGuard.Sample.Mail;

/// <summary>
/// The sample's <see cref="IEmailTransport"/>: what <see cref="IGuardedEmailSender"/> hands a mail to once the send guard
/// allowed it. It records the mail in the outbox and delivers it (pickup folder or SMTP); when delivery fails it
/// throws, and the guarded sender gives the mail's permits back.
/// </summary>
internal sealed class SampleEmailTransport(IMailTransport transport, Outbox outbox) : IEmailTransport
{
    /// <summary>Carries the sample's mail id through the guarded sender, so the outbox line can be updated.</summary>
    public const string MailIdHeader = "X-Sample-Mail-Id";

    public async Task SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(content);
        OutgoingMail mail = new(envelope.Category ?? "mail", envelope.Sender ?? string.Empty, envelope.To[0], content.Subject, content.TextBody ?? string.Empty)
        {
            Id = content.Headers is { } headers && headers.TryGetValue(MailIdHeader, out string? id) ? Guid.Parse(id) : Guid.NewGuid(),
            TenantId = envelope.TenantId,
            ClientIp = envelope.ClientIp?.ToString(),
        };
        outbox.Add(mail, OutboxStatus.Queued);
        try
        {
            await transport.DeliverAsync(mail, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Transport failed: {ex.Message}");
            throw;
        }

        outbox.Update(mail.Id, OutboxStatus.Sent, transport.Description);
    }
}
