namespace EmailGuard;

/// <summary>The attribution an event's echoed tags give.</summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>The attribution <paramref name="feedback"/>'s tags name, or null when they are absent or unreadable.</summary>
    /// <param name="feedback">The event.</param>
    /// <param name="sendId">
    /// The send id the tags carry: it only tells apart mails that share a message id (<see cref="FeedbackKeys.Refusal"/>),
    /// and charges no one.
    /// </param>
    private static EmailSendAttribution? ReadTags(EmailFeedbackEvent feedback, out string? sendId)
    {
        EmailSendAttribution? read = EmailFeedbackTags.TryRead(feedback.Tags, out EmailSendAttribution? tagged) ? tagged : null;
        sendId = read?.SendId;
        return read;
    }
}
