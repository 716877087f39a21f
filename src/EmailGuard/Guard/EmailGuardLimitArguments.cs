namespace EmailGuard;

/// <summary>
/// The arguments of <see cref="EmailGuardEvents.OnLimitExceeded"/> and <see cref="EmailGuardEvents.OnNearLimit"/>: a rule of
/// one dimension reached its limit or came near it.
/// </summary>
public sealed class EmailGuardLimitArguments
{
    internal EmailGuardLimitArguments(OutboundEmail message, EmailSendRuleUsage usage)
    {
        Message = message;
        Usage = usage;
    }

    /// <summary>Gets the message being checked.</summary>
    public OutboundEmail Message { get; }

    /// <summary>Gets the usage of the rule, with its dimension and partition.</summary>
    public EmailSendRuleUsage Usage { get; }
}
