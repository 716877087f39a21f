namespace EmailGuard;

/// <summary>What an <see cref="IEmailContentInspector"/> judges: the message's envelope and its content.</summary>
public sealed class EmailContentInspectionArguments
{
    /// <summary>Creates the arguments; the guard does, and so can an inspector's tests.</summary>
    /// <param name="message">The message being checked.</param>
    /// <param name="content">Its content.</param>
    public EmailContentInspectionArguments(OutboundEmail message, EmailContent content)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(content);
        Message = message;
        Content = content;
    }

    /// <summary>Gets the message being checked: sender, recipients, tenant, user, category.</summary>
    public OutboundEmail Message { get; }

    /// <summary>Gets the content: subject and bodies.</summary>
    public EmailContent Content { get; }
}
