namespace EmailGuard.Redis.Tests.Guard;

/// <summary>
/// A check or a reservation of the pooled-state tests and its answer. A class, not a record: refunds are tracked by
/// identity.
/// </summary>
/// <param name="index">The message's index in its phase.</param>
/// <param name="message">The message.</param>
/// <param name="decision">Its answer; default when <paramref name="cancelled"/>.</param>
/// <param name="reserved">Whether it was a reservation (<see cref="IEmailSendGuard.ReserveAsync"/>), not a check.</param>
/// <param name="cancelled">Whether its caller cancelled it and got no answer.</param>
internal sealed class KeptDecision(int index, OutboundEmail message, EmailSendDecision decision, bool reserved = false, bool cancelled = false)
{
    public int Index { get; } = index;

    public OutboundEmail Message { get; } = message;

    public EmailSendDecision Decision { get; } = decision;

    public bool Reserved { get; } = reserved;

    public bool Cancelled { get; } = cancelled;

    /// <summary>Whether Redis holds this decision's permits: an admission its caller was told of (a local one is written back).</summary>
    public bool Charged => !Cancelled && Decision.IsAllowed;

    /// <summary>The permits it takes against the message-wide dimensions: one per recipient (all distinct here).</summary>
    public int Cost => Message.To.Count;

    /// <summary>Whether Redis, not the local fallback, admitted it.</summary>
    public bool AdmittedByRedis => !Cancelled && Decision.Reason == EmailSendReason.Allowed && !Decision.Acquisition.AdmittedLocally;

    public override string ToString() => $"{(Reserved ? "reservation" : "check")} {Index} ({(Cancelled ? "cancelled" : Decision.Reason.ToString())})";
}
