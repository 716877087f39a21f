namespace EmailGuard;

/// <summary>Checks, then sends; refunds when the transport throws.</summary>
internal sealed class GuardedEmailSender(IEmailSendGuard guard, IEmailTransport transport) : IGuardedEmailSender
{
    public async ValueTask<GuardedSendResult> TrySendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(content);
        EmailSendDecision decision = await guard.CheckAsync(envelope, cancellationToken).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            return new GuardedSendResult(false, decision);
        }

        try
        {
            await transport.SendAsync(envelope, content, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The provider did not take the message, so it must not count against anyone's limits.
            await guard.RefundAsync(decision, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        return new GuardedSendResult(true, decision);
    }

    public async ValueTask<EmailSendDecision> SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default)
    {
        GuardedSendResult result = await TrySendAsync(envelope, content, cancellationToken).ConfigureAwait(false);
        return result.Sent ? result.Decision : throw new EmailSendDeniedException(result.Decision);
    }
}
