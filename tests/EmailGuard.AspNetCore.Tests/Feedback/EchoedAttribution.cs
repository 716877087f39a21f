namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>What a webhook's event names, as the recorder reads it without signing keys.</summary>
internal static class EchoedAttribution
{
    /// <summary>The event's attribution, or what its echoed tags name; null for neither.</summary>
    public static EmailSendAttribution? Echoed(this EmailFeedbackEvent feedback)
        => feedback.Attribution ?? (EmailFeedbackTags.TryRead(feedback.Tags, out EmailSendAttribution? read) ? read : null);
}
