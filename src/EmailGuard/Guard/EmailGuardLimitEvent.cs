namespace EmailGuard;

/// <summary>A rule of one dimension reached its limit or came near it.</summary>
public sealed class EmailGuardLimitEvent
{
    internal EmailGuardLimitEvent(OutboundEmail message, EmailSendRuleUsage usage)
    {
        Message = message;
        Usage = usage;
    }

    /// <summary>Gets the message being checked.</summary>
    public OutboundEmail Message { get; }

    /// <summary>Gets the usage of the rule, with its dimension and partition.</summary>
    public EmailSendRuleUsage Usage { get; }
}
