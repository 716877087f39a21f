namespace EmailGuard;

/// <summary>The result of recording one feedback event.</summary>
public sealed class EmailFeedbackResult
{
    /// <summary>What recording did.</summary>
    public required EmailFeedbackOutcome Outcome { get; init; }

    /// <summary>Who the event was charged to: the echoed attribution, or the one found by message id; null when unknown.</summary>
    public EmailSendAttribution? Attribution { get; init; }

    /// <summary>The suppression the event put in place, such as <c>hard_bounce</c>; null when it suppressed nothing.</summary>
    public string? SuppressionReason { get; init; }
}
