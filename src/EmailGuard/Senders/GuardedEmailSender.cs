namespace EmailGuard;

/// <summary>
/// Checks with the guard (passing the content, so the content rules and inspector apply), then sends through the app's transport with the admitted message's attribution attached
/// (provider tags, the send-id header, <see cref="EmailSendContext.Current"/>); maps the provider's message id to the
/// attribution when the transport returns one; refunds when the transport throws, unless it was cancelled.
/// </summary>
internal sealed class GuardedEmailSender(IEmailSendGuard guard, IEmailTransport transport, IEmailGuardFeedback? feedback = null) : IGuardedEmailSender
{
    public async ValueTask<GuardedSendResult> TrySendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(content);
        // The guard sees what is sent: the content rules count its fingerprint and the content inspector judges it. A
        // content the envelope carries is not what the transport sends, so it is not what is checked either.
        OutboundEmail checkedEnvelope = ReferenceEquals(envelope.Content, content) ? envelope : envelope.WithContent(content);
        EmailSendDecision decision = await guard.CheckAsync(checkedEnvelope, cancellationToken).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            return new GuardedSendResult(false, decision);
        }

        EmailSendAttribution? attribution = decision.Attribution;
        using EmailSendContext? context = attribution is null ? null : EmailSendContext.Enter(attribution);
        string? messageId;
        try
        {
            messageId = await transport.SendAndGetMessageIdAsync(envelope.WithAddressesOnOneLine(), context?.AddTo(content) ?? EmailSendContext.Screened(content), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // The provider did not take the message, so it must not count against anyone's limits. Not on a
            // cancellation: the transport may have handed the message over before it saw it, and the caller's token
            // is often the client's (a request's abort token), so a client that hangs up while the provider answers
            // would otherwise send and have its permits back. A cancelled send stays counted, whatever the transport
            // throws for it: one that wraps every failure in its own exception (catch (Exception ex) { throw new
            // Exception(ex.Message); } around MailKit is common) turns the cancellation into an ordinary failure.
            await guard.RefundAsync(decision, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        messageId ??= context?.ProviderMessageId;
        if (!string.IsNullOrWhiteSpace(messageId) && messageId.Length <= 1024 && attribution is not null && feedback is not null)
        {
            // Sent already: the mapping is best effort (TrackAsync logs a store failure rather than throwing).
            if (context?.Provider is { } provider)
            {
                await feedback.TrackForProviderAsync(provider, messageId, attribution, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await feedback.TrackAsync(messageId, attribution, CancellationToken.None).ConfigureAwait(false);
            }
        }

        return new GuardedSendResult(true, decision, messageId);
    }

    public async ValueTask<EmailSendDecision> SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken = default)
    {
        GuardedSendResult result = await TrySendAsync(envelope, content, cancellationToken).ConfigureAwait(false);
        return result.Sent ? result.Decision : throw new EmailSendDeniedException(result.Decision);
    }
}
