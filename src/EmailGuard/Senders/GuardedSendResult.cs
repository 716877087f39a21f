namespace EmailGuard;

/// <summary>The outcome of <see cref="IGuardedEmailSender.TrySendAsync"/>.</summary>
public readonly struct GuardedSendResult
{
    internal GuardedSendResult(bool sent, EmailSendDecision decision, string? providerMessageId = null)
    {
        Sent = sent;
        Decision = decision;
        ProviderMessageId = providerMessageId;
    }

    /// <summary>Gets the provider's id for the message, when the transport returned one.</summary>
    public string? ProviderMessageId { get; }

    /// <summary>Gets whether the transport accepted the message.</summary>
    public bool Sent { get; }

    /// <summary>Gets the guard's decision: why it was denied, and when to retry.</summary>
    public EmailSendDecision Decision { get; }
}
