namespace EmailGuard;

/// <summary>
/// Thrown by the list, flag and status APIs (<see cref="IEmailGuardLists"/>, <see cref="IEmailGuardFlags"/>,
/// <see cref="IEmailSendGuard.GetStatusAsync"/>) when the store did not answer within
/// <see cref="StoreResilienceOptions.Timeout"/>, failed, or is known to be down (its circuit is open). It is the only
/// exception these APIs throw for a store fault, whatever the store's client throws; the client's exception, if any, is
/// the <see cref="Exception.InnerException"/>. Checks (<see cref="IEmailSendGuard.CheckAsync"/>, the endpoint
/// middleware) never throw it: they follow their failure mode.
/// </summary>
public sealed class EmailGuardStoreUnavailableException : Exception
{
    /// <summary>Creates the exception with a default message.</summary>
    public EmailGuardStoreUnavailableException()
        : base("The EmailGuard store is unavailable.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public EmailGuardStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The store client's exception.</param>
    public EmailGuardStoreUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
