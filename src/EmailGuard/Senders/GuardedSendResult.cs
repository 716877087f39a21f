namespace EmailGuard;

/// <summary>The outcome of <see cref="IGuardedEmailSender.TrySendAsync"/>.</summary>
public readonly struct GuardedSendResult
{
    internal GuardedSendResult(bool sent, EmailSendDecision decision)
    {
        Sent = sent;
        Decision = decision;
    }

    /// <summary>Gets whether the transport accepted the message.</summary>
    public bool Sent { get; }

    /// <summary>Gets the guard's decision: why it was denied, and when to retry.</summary>
    public EmailSendDecision Decision { get; }
}
