namespace EmailGuard;

/// <summary>
/// An allowed check or reservation was refunded through <see cref="IEmailSendGuard.RefundAsync"/>, which gave its
/// permits back: what a dashboard's recent-activity view takes off the parties it counted when the message was checked.
/// Raised once per refunded decision, however often copies of it are refunded; never for a refund that gave nothing back.
/// </summary>
public sealed class EmailGuardRefundArguments
{
    internal EmailGuardRefundArguments(OutboundEmail message, EmailSendDecision decision)
    {
        Message = message;
        Decision = decision;
    }

    /// <summary>Gets the message whose check was refunded, as it was checked.</summary>
    public OutboundEmail Message { get; }

    /// <summary>Gets the refunded decision; its <see cref="EmailSendDecision.Timestamp"/> says when the permits were taken (for a reservation, the reserved time).</summary>
    public EmailSendDecision Decision { get; }
}
