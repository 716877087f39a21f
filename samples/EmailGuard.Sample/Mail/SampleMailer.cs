using EmailGuard.Sample.Guard;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The one way the sample sends mail: every mail passes the guard before it is sent or queued, and queued mail passes
/// it again when the worker takes it (<see cref="MailQueueWorker"/>).
/// </summary>
public sealed class SampleMailer(InterimGuard guard, IMailTransport transport, Outbox outbox, MailQueue queue)
{
    /// <summary>Checks and sends at once: confirmation and reset mails, which a user is waiting for.</summary>
    public async Task<GuardVerdict> SendNowAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        GuardVerdict verdict = await guard.CheckAsync(mail, count: true, cancellationToken);
        if (!verdict.Allowed)
        {
            return verdict;
        }

        outbox.Add(mail, OutboxStatus.Queued);
        await DeliverAsync(mail, cancellationToken);
        return verdict;
    }

    /// <summary>Checks, then queues: tenant mail, which may come in floods.</summary>
    public async Task<GuardVerdict> QueueAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        GuardVerdict verdict = await guard.CheckAsync(mail, count: true, cancellationToken);
        if (!verdict.Allowed)
        {
            return verdict;
        }

        outbox.Add(mail, OutboxStatus.Queued);
        await queue.EnqueueAsync(mail, cancellationToken);
        return verdict;
    }

    /// <summary>
    /// The worker's half: the guard may have changed its mind since the mail was queued (a suspended tenant, a
    /// blocklisted recipient), so it is asked again, without counting the mail a second time.
    /// </summary>
    public async Task DispatchQueuedAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        GuardVerdict verdict = await guard.CheckAsync(mail, count: false, cancellationToken);
        if (!verdict.Allowed)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Refused at dequeue: {verdict.Reason}");
            return;
        }

        await DeliverAsync(mail, cancellationToken);
    }

    private async Task DeliverAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        try
        {
            await transport.DeliverAsync(mail, cancellationToken);
            outbox.Update(mail.Id, OutboxStatus.Sent, transport.Description);
        }
        catch (Exception ex) when (ex is IOException or MailKit.ProtocolException or MailKit.CommandException or System.Net.Sockets.SocketException)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Transport failed: {ex.Message}");
        }
    }
}
