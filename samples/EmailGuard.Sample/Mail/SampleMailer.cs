using System.Net;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Tenants;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The one way the sample sends mail: every mail passes the send guard before it is sent or queued, and queued mail
/// is checked again when the worker takes it (<see cref="MailQueueWorker"/>).
/// </summary>
public sealed class SampleMailer(
    IEmailSendGuard guard,
    IMailTransport transport,
    Outbox outbox,
    MailQueue queue,
    SampleDatabase database,
    ProviderFeedbackSimulator? provider = null)
{
    /// <summary>
    /// Checks (taking the permits), then queues: every mail the sample sends. Signup and reset mail too, so that those
    /// forms answer as fast for an address with an account as for one without.
    /// </summary>
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
        if (mail.RequiresAccount && !database.AccountExists(mail.To))
        {
            outbox.Update(mail.Id, OutboxStatus.Skipped, "No account for this address: nothing sent.");
            return;
        }

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
        UserId = mail.UserId,
        Category = mail.Category,
        Content = mail.HasUserText ? new EmailContent { Subject = mail.Subject, TextBody = mail.Body } : null,
        ClientIp = IPAddress.TryParse(mail.ClientIp, out IPAddress? ip) ? ip : null,
    };

    private async Task<bool> DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        try
        {
            await transport.DeliverAsync(mail, cancellationToken);
            outbox.Update(mail.Id, OutboxStatus.Sent, transport.Description);
            if (provider is not null)
            {
                // What a real provider does minutes later: report the bounce or complaint through the webhook.
                await provider.ReportAsync(mail, cancellationToken);
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Transport failed: {ex.Message}");
            return false;
        }
    }
}
