namespace EmailGuard;

/// <summary>The arguments of <see cref="EmailFeedbackEvents.OnSuppressed"/>.</summary>
public sealed class EmailSuppressionArguments
{
    /// <summary>Gets the event that caused the suppression.</summary>
    public required EmailFeedbackEvent Event { get; init; }

    /// <summary>Gets who the event was charged to, or <see langword="null"/> when unknown.</summary>
    public EmailSendAttribution? Attribution { get; init; }

    /// <summary>Gets the recipient, normalized.</summary>
    public required string Recipient { get; init; }

    /// <summary>Gets the reason of the blocklist entry, one of <see cref="EmailFeedbackSuppressionReasons"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the category the recipient is suppressed for, or <see langword="null"/> when suppressed for every category.</summary>
    public string? Category { get; init; }

    /// <summary>Gets the blocklist entry as stored.</summary>
    public required EmailGuardListEntry Entry { get; init; }
}
