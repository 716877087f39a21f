namespace EmailGuard;

/// <summary>The send guard denied a message, so it was not sent. Catch it to show the user why and when to retry.</summary>
public sealed class EmailSendDeniedException : Exception
{
    /// <summary>Initializes the exception with a generic message.</summary>
    public EmailSendDeniedException()
        : base("The send guard denied the message.")
    {
    }

    /// <summary>Initializes the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public EmailSendDeniedException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public EmailSendDeniedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes the exception from the guard's decision.</summary>
    /// <param name="decision">The denial.</param>
    /// <exception cref="ArgumentException"><paramref name="decision"/> allows the message: a denial cannot carry it.</exception>
    public EmailSendDeniedException(EmailSendDecision decision)
        : base(Describe(decision))
    {
        Decision = decision;
    }

    /// <summary>
    /// Gets the guard's decision: reason, dimension, recipient and retry-after. Never an allowed decision: the
    /// constructors without one leave the default, <see cref="EmailSendReason.None"/>, which denies.
    /// </summary>
    public EmailSendDecision Decision { get; }

    // The address and the detail (a list or flag reason) may be anyone's text, and the app logs this message as it is:
    // escaped like a log value, so that an address of "x\r\nwarn: ..." cannot forge a line. The decision keeps them raw.
    private static string Describe(EmailSendDecision decision) => decision.Reason switch
    {
        _ when decision.IsAllowed => throw new ArgumentException(
            $"An allowed decision ({decision.Reason}) cannot be the reason a message was denied.", nameof(decision)),
        EmailSendReason.LimitExceeded => $"The message was not sent: the {decision.Dimension} limit is reached; retry after {decision.RetryAfter}.",
        EmailSendReason.InvalidAddress => $"The message was not sent: '{LogValue.Of(decision.InvalidAddress)}' is not a valid address. {LogValue.Of(decision.Detail)}",
        _ => $"The message was not sent: {decision.Reason} ({decision.Dimension}). {LogValue.Of(decision.Detail)}",
    };
}
