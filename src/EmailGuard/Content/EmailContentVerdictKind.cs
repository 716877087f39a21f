namespace EmailGuard;

/// <summary>What an <see cref="IEmailContentInspector"/> decided.</summary>
/// <remarks>The zero value is <see cref="Deny"/>: a <see langword="default"/> verdict never lets a message through.</remarks>
public enum EmailContentVerdictKind
{
    /// <summary>Do not send; the check answers <see cref="EmailSendReason.ContentRejected"/> and gives the permits back.</summary>
    Deny = 0,

    /// <summary>Send.</summary>
    Allow = 1,

    /// <summary>
    /// Send, and flag the message's user (or, without one, its tenant) with the verdict's reason as the flag reason,
    /// so the reason's <see cref="FlagPolicy"/> reduces its limits or suspends it.
    /// </summary>
    Flag = 2,
}
