using System.Globalization;
using System.Net;
using EmailGuard.Sample.Guard;
using EmailGuard.Sample.Tenants;

namespace EmailGuard.Sample.Mail;

/// <summary>
/// The one way the sample sends mail: every mail passes the send guard before it is queued, which reserves its slot at
/// the provider's pace (the token bucket in <c>EmailGuard:SendGuard:Global</c>); the worker sends it at that slot and
/// checks it again first (<see cref="MailQueueWorker"/>).
/// </summary>
public sealed class SampleMailer(
    IEmailSendGuard guard,
    IMailTransport transport,
    Outbox outbox,
    MailQueue queue,
    SampleDatabase database,
    TimeProvider timeProvider,
    ProviderFeedbackSimulator? provider = null)
{
    /// <summary>
    /// How late the worker may reach a mail and still send it at its old slot. Later than that (the queue was paused,
    /// the app stalled), sending the whole backlog at once would trip the provider, so the mail is reserved again.
    /// </summary>
    internal static readonly TimeSpan MissedSlotTolerance = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Reserves (taking the permits of every cap now, and a slot of the provider's rate), then queues: every mail the
    /// sample sends. Signup and reset mail too, so that those forms answer as fast for an address with an account as
    /// for one without. A cap that is full refuses the mail here, at once, as a check would.
    /// </summary>
    public async Task<GuardVerdict> QueueAsync(OutgoingMail mail, CancellationToken cancellationToken)
    {
        EmailSendDecision decision = await guard.ReserveAsync(Envelope(mail), cancellationToken);
        if (decision.IsAllowed)
        {
            outbox.Add(mail, OutboxStatus.Queued, SlotDetail(decision));
            await queue.EnqueueAsync(new QueuedMail(mail, decision), cancellationToken);
        }

        return GuardVerdict.From(decision);
    }

    /// <summary>
    /// The worker's half: wait for the mail's slot on the app's clock, then ask the guard again with a peek, which
    /// takes nothing. The guard may have changed its mind since the mail was queued (its tenant suspended, its
    /// recipient blocklisted); the mail already holds its permits, so only a denial that is not about limits stops it
    /// here, and then its reservation is cancelled.
    /// </summary>
    public async Task DispatchQueuedAsync(QueuedMail queued, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(queued);
        OutgoingMail mail = queued.Mail;
        if (mail.RequiresAccount && !database.AccountExists(mail.To))
        {
            // The reservation is kept on purpose: giving an unknown address's permits back would let its per-recipient
            // cap tell whether an account exists.
            outbox.Update(mail.Id, OutboxStatus.Skipped, "No account for this address: nothing sent.");
            return;
        }

        EmailSendDecision reservation = await WaitForSlotAsync(mail, queued.Reservation, cancellationToken);
        if (!reservation.IsAllowed)
        {
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Refused at dequeue: {GuardVerdict.From(reservation).Reason}");
            return;
        }

        EmailSendDecision decision = await guard.PeekAsync(Envelope(mail), cancellationToken);
        if (decision.Reason is EmailSendReason.Suspended or EmailSendReason.Blocklisted or EmailSendReason.InvalidAddress)
        {
            await guard.RefundAsync(reservation, cancellationToken);
            outbox.Update(mail.Id, OutboxStatus.Failed, $"Refused at dequeue: {GuardVerdict.From(decision).Reason}");
            return;
        }

        // The reservation's attribution, as tags the provider echoes in the mail's bounces and complaints (Mailgun: its
        // "v:" fields): signed when EmailGuard:Feedback:TagSigningKeys lists keys (appsettings.Development.json does).
        await DeliverAsync(mail, reservation.Attribution is { } attribution ? EmailFeedbackTags.Write(attribution) : null, cancellationToken);
    }

    /// <summary>
    /// Waits until the reserved slot, on the app's <see cref="TimeProvider"/>: one timer, no polling. A mail reached more
    /// than <see cref="MissedSlotTolerance"/> after its slot gives the slot back and is reserved again, so a held backlog
    /// leaves at the provider's pace; while the provider's budget (the global rules) is spent, it waits for the
    /// retry-after the guard gives, once, and asks again. Any other denial (its tenant is over its cap or suspended
    /// since it was queued) is returned, and the mail fails: it must not hold up the queue for everyone behind it.
    /// </summary>
    private async Task<EmailSendDecision> WaitForSlotAsync(OutgoingMail mail, EmailSendDecision reservation, CancellationToken cancellationToken)
    {
        while (reservation.SendAt is { } sendAt)
        {
            TimeSpan wait = sendAt - timeProvider.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, timeProvider, cancellationToken);
                return reservation;
            }

            if (-wait <= MissedSlotTolerance)
            {
                return reservation;
            }

            await guard.RefundAsync(reservation, cancellationToken);
            reservation = await guard.ReserveAsync(Envelope(mail), cancellationToken);
            while (reservation is { Reason: EmailSendReason.LimitExceeded, Dimension: EmailGuardDimension.Global } && reservation.RetryAfter != TimeSpan.MaxValue)
            {
                outbox.Update(mail.Id, OutboxStatus.Queued, string.Create(
                    CultureInfo.InvariantCulture, $"The provider's budget is spent; trying again in {reservation.RetryAfter.TotalSeconds:0.#} s."));
                await Task.Delay(reservation.RetryAfter, timeProvider, cancellationToken);
                reservation = await guard.ReserveAsync(Envelope(mail), cancellationToken);
            }

            if (reservation.IsAllowed)
            {
                outbox.Update(mail.Id, OutboxStatus.Queued, SlotDetail(reservation));
            }
        }

        return reservation;
    }

    private string? SlotDetail(EmailSendDecision reservation)
        => reservation.SendAt is { } sendAt && sendAt > timeProvider.GetUtcNow()
            ? string.Create(CultureInfo.InvariantCulture, $"Paced to the provider: sends at {sendAt:HH:mm:ss.fff}.")
            : null;

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

    private async Task<bool> DeliverAsync(OutgoingMail mail, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken)
    {
        try
        {
            await transport.DeliverAsync(mail, cancellationToken);
            outbox.Update(mail.Id, OutboxStatus.Sent, transport.Description);
            if (provider is not null)
            {
                // What a real provider does minutes later: report the bounce or complaint through the webhook.
                await provider.ReportAsync(mail, tags, cancellationToken);
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
