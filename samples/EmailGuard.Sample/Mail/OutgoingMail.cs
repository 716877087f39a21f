namespace EmailGuard.Sample.Mail;

/// <summary>A mail the app wants to send, with the context the guard limits by.</summary>
public sealed record OutgoingMail(string Category, string From, string To, string Subject, string Body)
{
    public Guid Id { get; init; } = Guid.NewGuid();

    /// <summary>The tenant the mail is sent for; null for mail the app sends on its own behalf.</summary>
    public string? TenantId { get; init; }

    /// <summary>The user who caused the mail, so a user whose mail keeps hitting the content rule can be flagged.</summary>
    public string? UserId { get; init; }

    /// <summary>
    /// Whether the mail carries text its user wrote (a note on a share), so the guard counts and inspects its content.
    /// The app's own templates are left out: they are one text to many recipients by design.
    /// </summary>
    public bool HasUserText { get; init; }

    /// <summary>The IP of the request that caused the mail, so a flood from one network is visible to the guard.</summary>
    public string? ClientIp { get; init; }

    /// <summary>
    /// Whether the mail goes out only if an account exists for <see cref="To"/>, checked by the worker at dequeue, so
    /// that the request which queued it did the same work whether or not the account exists.
    /// </summary>
    public bool RequiresAccount { get; init; }
}
