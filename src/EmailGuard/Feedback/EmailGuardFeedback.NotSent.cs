using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Mail the provider never sent (<see cref="EmailFeedbackEvent.SuppressedByProvider"/>): the guard counted it as a send
/// when it admitted it, and the provider leaves it out of its own ratios. Left counted, it dilutes its parties' bounce
/// and complaint ratios: a tenant that keeps mailing addresses the provider has unsubscribed (an unsubscribe without a
/// category suppresses nothing here) adds sends that can never bounce. The event counts one "not sent" per party in its
/// own acquire (the one that deduplicates it), on the send counter's window; the counts subtract it from the sends
/// where they are read (<see cref="ReadAsync"/>). Nothing is refunded. The volume horizon is not offset: a bounce goes
/// to the bucket of the party's latest send, and a not-sent there would come off the bucket of the report's time, not
/// of the mail's, shrinking the shared parties' last sends below the mail they really sent.
/// </summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>Where an event's attribution came from, which decides whether its mail may offset a send.</summary>
    private enum NotSentSource
    {
        /// <summary>No party named: the mail may be another app's on the same provider account.</summary>
        None,

        /// <summary>Echoed tags taken without a signature (no signing keys are listed): anyone who reaches the provider can write them.</summary>
        UnsignedTags,

        /// <summary>The caller's <see cref="EmailFeedbackEvent.Attribution"/>, taken as it is for the counts, but not the guard's record.</summary>
        Vouched,

        /// <summary>Echoed tags one of <see cref="EmailFeedbackOptions.TagSigningKeys"/> signed: the guard wrote them for this mail.</summary>
        SignedTags,

        /// <summary>The message-id mapping the guard wrote when it admitted the mail.</summary>
        Mapping,
    }

    /// <summary>
    /// The parties whose send an event about mail the provider never sent offsets: those the guard itself recorded for
    /// that mail (its message-id mapping, or tags one of the signing keys signed), all mail with them. None for any
    /// other event, and none for mail the guard cannot tell is its own: unsigned tags could name a rival and drain its
    /// sends, and mail without a mapping or signed tags may be another app's on the same account, never counted here.
    /// </summary>
    private List<(EmailGuardDimension Dimension, string? Partition)> NotSentParties(EmailFeedbackEvent feedback, EmailSendAttribution? attribution, NotSentSource source)
        => feedback.SuppressedByProvider && source is NotSentSource.Mapping or NotSentSource.SignedTags && !IsEmpty(attribution)
            ? [.. Parties(attribution)]
            : [];

    /// <summary>Logs and counts a recorded event about mail the provider never sent: whether its send was left out, and why not.</summary>
    /// <param name="provider">The event's provider, validated.</param>
    /// <param name="shownProvider">The provider as logs show it.</param>
    /// <param name="eventId">The event id as logs show it.</param>
    /// <param name="parties">The parties whose sends it left out.</param>
    /// <param name="source">Where the event's attribution came from.</param>
    private void NoteNotSent(string provider, string shownProvider, string eventId, int parties, NotSentSource source)
    {
        _metrics?.RecordFeedbackNotSent(provider, parties > 0 ? "left_out" : source switch
        {
            NotSentSource.UnsignedTags => "unsigned_tags",
            NotSentSource.Vouched => "caller_attribution",
            _ => "no_record",
        });
        LogNotSent(shownProvider, eventId, parties, source);
    }

    private void LogNotSent(string provider, string eventId, int parties, NotSentSource source)
    {
        if (parties > 0)
        {
            string from = source == NotSentSource.Mapping ? "message-id mapping" : "signed tags";
            LogNotSentCounted(_logger, provider, eventId, parties, from);
            return;
        }

        string why = source switch
        {
            NotSentSource.UnsignedTags => "its parties come from tags no signing key signed (EmailGuard:Feedback:TagSigningKeys)",
            NotSentSource.Vouched => "its parties are the caller's attribution, not the guard's record of the mail",
            _ => "the guard has no record of the mail (no message-id mapping, no signed tags): it may be another app's mail on the account",
        };
        LogNotSentNotOffset(_logger, provider, eventId, why);
    }

    [LoggerMessage(EventId = 3168, EventName = "FeedbackNotSentCounted", Level = LogLevel.Debug,
        Message = "Feedback from {Provider} (event {EventId}) is about mail the provider never sent: counted as not sent for {Parties} parties of its {Source}, so their ratios leave it out.")]
    private static partial void LogNotSentCounted(ILogger logger, string provider, string eventId, int parties, string source);

    [LoggerMessage(EventId = 3169, EventName = "FeedbackNotSentNotOffset", Level = LogLevel.Debug,
        Message = "Feedback from {Provider} (event {EventId}) is about mail the provider never sent, but its send still counts for its parties' ratios: {Reason}.")]
    private static partial void LogNotSentNotOffset(ILogger logger, string provider, string eventId, string reason);
}
