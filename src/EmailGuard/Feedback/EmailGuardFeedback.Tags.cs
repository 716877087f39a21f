using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>The attribution an event's echoed tags give: read, and checked against the tag signing keys when there are some.</summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>When tags refused for their signature were last logged (<see cref="TimeProvider.GetTimestamp"/>), or <see cref="long.MinValue"/>.</summary>
    private long _refusedTagsLogged = long.MinValue;

    /// <summary>
    /// The attribution <paramref name="feedback"/>'s tags name, or null when they are absent or unreadable, or name a
    /// party without a signature one of the keys made (with keys listed). A customer of the app that got tags of its own
    /// onto a mail (through an app that passes its customers' tags or headers to the provider) must not charge its
    /// bounces and complaints to another tenant, pool, user or sender; refused, they are charged as feedback without
    /// tags is: by the message-id mapping when there is one, else to the account alone. The address is suppressed all the same.
    /// </summary>
    /// <param name="feedback">The event.</param>
    /// <param name="provider">The event's provider, validated.</param>
    /// <param name="sendId">
    /// The send id the tags carry, signed or not: it only tells apart mails that share a message id
    /// (<see cref="FeedbackKeys.Refusal"/>), and charges no one.
    /// </param>
    /// <param name="verified">
    /// Whether one of the signing keys signed the tags returned: only then are they known to be the guard's own record of
    /// the mail's parties (tags taken without keys could have been written by anyone who reaches the provider).
    /// </param>
    private EmailSendAttribution? ReadTags(EmailFeedbackEvent feedback, string provider, out string? sendId, out bool verified)
    {
        sendId = null;
        verified = false;
        if (!EmailFeedbackTags.TryRead(feedback.Tags, out EmailSendAttribution? read))
        {
            return null;
        }

        sendId = read.SendId;
        if (_tagSigner is null || NamesNoParty(read))
        {
            // Without keys, tags are taken as they come (as before signing existed). A send id alone charges no one,
            // and is what Postmark keeps of signed tags that do not fit its metadata.
            return read;
        }

        FeedbackTagVerdict verdict = _tagSigner.Verify(feedback.Tags!);
        _metrics?.RecordFeedbackTags(provider, verdict switch
        {
            FeedbackTagVerdict.Verified => "verified",
            FeedbackTagVerdict.Unsigned => "unsigned",
            _ => "invalid",
        });
        if (verdict == FeedbackTagVerdict.Verified)
        {
            verified = true;
            return read;
        }

        NoteRefusedTags(provider, feedback.Kind, verdict);
        return null;
    }

    private static bool NamesNoParty(EmailSendAttribution read)
        => read is { TenantId: null, TenantPool: null, UserId: null, Sender: null, Category: null, ClientNetwork: null, EndpointPolicy: null };

    /// <summary>Logs tags refused for their signature, at most once per <see cref="UnmatchedLogInterval"/>.</summary>
    private void NoteRefusedTags(string provider, EmailFeedbackKind kind, FeedbackTagVerdict verdict)
    {
        long last = Interlocked.Read(ref _refusedTagsLogged);
        long now = _timeProvider.GetTimestamp();
        if ((last == long.MinValue || _timeProvider.GetElapsedTime(last, now) >= UnmatchedLogInterval)
            && Interlocked.CompareExchange(ref _refusedTagsLogged, now, last) == last)
        {
            string shownProvider = LogValue.Of(provider);
            string reason = verdict == FeedbackTagVerdict.Unsigned ? "carry no signature" : "carry a signature that none of the keys made over them";
            LogTagsRefused(_logger, kind, shownProvider, reason, UnmatchedLogInterval);
        }
    }

    [LoggerMessage(EventId = 3162, EventName = "FeedbackTagsSignatureRefused", Level = LogLevel.Warning,
        Message = "Feedback {Kind} from {Provider} has EmailGuard tags that name a party but {Reason} (EmailGuard:Feedback:TagSigningKeys), so they name no one: the event is charged by its message-id mapping if it has one, else to all mail only, and still suppresses its address. Tags written outside the guarded senders (a customer's own, passed to the provider by the app) look like this, and so does mail signed with a key since taken off the list. Counted in emailguard.feedback.tags. Logged at most once every {Interval}.")]
    private static partial void LogTagsRefused(ILogger logger, EmailFeedbackKind kind, string provider, string reason, TimeSpan interval);
}
