using System.Net;
using EmailGuard.Sample.Guard;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The one way the sample sends mail: every mail passes the send guard before it is sent or queued, and queued mail
/// is checked again when the worker takes it (<see cref="MailQueueWorker"/>).
/// </summary>
public sealed class SampleMailer(IGuardedEmailSender sender, IEmailSendGuard guard, IMailTransport transport, Outbox outbox, MailQueue queue)
{
    /// <summary>
    /// Checks and sends at once, through the guarded sender: confirmation and reset mails, which a user is waiting for.
    /// </summary>
    public async Task<GuardVerdict> SendNowAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        EmailContent content = new()
        {
            Subject = mail.Subject,
            TextBody = mail.Body,
            Headers = new Dictionary<string, string> { [SampleEmailTransport.MailIdHeader] = mail.Id.ToString("N") },
        };
        try
        {
            GuardedSendResult result = await sender.TrySendAsync(Envelope(mail), content, cancellationToken);
            return GuardVerdict.From(result.Decision);
        }
        catch (Exception ex) when (ex is IOException or MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException)
        {
            // The guarded sender gave the permits back and the outbox shows the failure; the visitor is told to retry.
            return new GuardVerdict(false, "the mail could not be delivered", TimeSpan.Zero);
        }
    }

    /// <summary>Checks (taking the permits), then queues: tenant mail, which may come in floods.</summary>
    public async Task<GuardVerdict> QueueAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        EmailSendDecision decision = await guard.CheckAsync(Envelope(mail), cancellationToken);
        if (decision.IsAllowed)
        {
            outbox.Add(mail, OutboxStatus.Queued);
            await queue.EnqueueAsync(mail, cancellationToken);
        }

        return GuardVerdict.From(decision);
    }

    /// <summary>
    /// The worker's half. The guard may have changed its mind since the mail was queued (its tenant suspended, its
    /// recipient blocklisted), so it is asked again with a peek, which takes nothing: the mail already holds its
    /// permits, so only a denial that is not about limits stops it here.
    /// </summary>
    public async Task DispatchQueuedAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        EmailSendDecision decision = await guard.PeekAsync(Envelope(mail), cancellationToken);
        if (decision.Reason is EmailSendReason.Suspended or EmailSendReason.Blocklisted or EmailSendReason.InvalidAddress)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Refused at dequeue: {GuardVerdict.From(decision).Reason}");
            return;
        }

        await DeliverAsync(mail, cancellationToken);
    }

    private static OutboundEmail Envelope(OutgoingMail mail) => new()
    {
        Sender = mail.From,
        To = [mail.To],
        TenantId = mail.TenantId,
        Category = mail.Category,
        ClientIp = IPAddress.TryParse(mail.ClientIp, out IPAddress? ip) ? ip : null,
    };

    private async Task<bool> DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        try
        {
            await transport.DeliverAsync(mail, cancellationToken);
            outbox.Update(mail.Id, OutboxStatus.Sent, transport.Description);
            return true;
        }
        catch (Exception ex) when (ex is IOException or MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Transport failed: {ex.Message}");
            return false;
        }
    }
}
