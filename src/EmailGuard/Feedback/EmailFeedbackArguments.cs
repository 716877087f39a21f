namespace EmailGuard;

/// <summary>The arguments of <see cref="EmailFeedbackEvents.OnBounce"/> and <see cref="EmailFeedbackEvents.OnComplaint"/>.</summary>
public sealed class EmailFeedbackArguments
{
    /// <summary>Gets the event as recorded.</summary>
    public required EmailFeedbackEvent Event { get; init; }

    /// <summary>Gets who the event was charged to, or <see langword="null"/> when unknown.</summary>
    public EmailSendAttribution? Attribution { get; init; }

    /// <summary>Gets the recipient, normalized.</summary>
    public required string Recipient { get; init; }
}
