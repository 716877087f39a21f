namespace EmailGuard.Sample.Mail;

/// <summary>A mail the app wants to send, with the context the guard limits by.</summary>
public sealed record OutgoingMail(string Category, string From, string To, string Subject, string Body)
{
    public Guid Id { get; init; } = Guid.NewGuid();

    /// <summary>The tenant the mail is sent for; null for mail the app sends on its own behalf.</summary>
    public string? TenantId { get; init; }

    /// <summary>The IP of the request that caused the mail, so a flood from one network is visible to the guard.</summary>
    public string? ClientIp { get; init; }

    /// <summary>
    /// Whether the mail goes out only if an account exists for <see cref="To"/>, checked by the worker at dequeue, so
    /// that the request which queued it did the same work whether or not the account exists.
    /// </summary>
    public bool RequiresAccount { get; init; }
}
