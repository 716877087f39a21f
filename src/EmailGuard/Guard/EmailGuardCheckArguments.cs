namespace EmailGuard;

/// <summary>
/// A message was checked by <see cref="IEmailSendGuard.CheckAsync"/>, allowed or not: the feed of a dashboard's
/// recent-activity view. Peeks are not reported.
/// </summary>
public sealed class EmailGuardCheckArguments
{
    internal EmailGuardCheckArguments(OutboundEmail message, EmailSendDecision decision)
    {
        Message = message;
        Decision = decision;
    }

    /// <summary>Gets the message that was checked.</summary>
    public OutboundEmail Message { get; }

    /// <summary>Gets the decision, with the usage of every rule when the store decided.</summary>
    public EmailSendDecision Decision { get; }
}
