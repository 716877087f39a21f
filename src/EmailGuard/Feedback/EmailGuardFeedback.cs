using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// Records provider feedback. One atomic acquire on the rate-limit store does the deduplication and the counting: a
/// key per (provider, event id) with a limit of 1 over <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, plus the
/// per-party counters (limit <see cref="RateLimitRule.MaxLimit"/>). The store admits all or none, so a duplicate
/// counts nothing, on every instance and both stores alike. Suppression goes on the shared blocklist afterwards; when
/// that write fails the acquire is refunded and the caller told to retry, so a lost write is never a lost suppression;
/// when the refund fails too, the retry is a duplicate that completes the suppression (a mark per event says it is done).
/// </summary>
internal sealed partial class EmailGuardFeedback : IEmailGuardFeedback, IEmailFeedbackCounts
{
    private const int MaxProviderLength = 32;
    private const int MaxIdLength = 1024;
    private const int MaxCategoryLength = 256;

    /// <summary>
    /// What this build adds to a refusal's key of the builds before (<see cref="FeedbackKeys.LegacyRefusal"/>): an even
    /// number, so the key's count is odd exactly when one of those builds marked the refusal. They mark it with 1, only
    /// while the key counts nothing.
    /// </summary>
    private const long LegacyRefusalCost = 2;

    /// <summary>What the breakers are told of feedback that names no party: nothing but the account is charged.</summary>
    private static readonly EmailSendAttribution s_unattributed = new();

    private readonly ResilientRateLimitStore _store;
    private readonly ResilientKeyValueStore _mappings;
    private readonly IEmailGuardLists? _lists;
    private readonly EmailFeedbackOptions _options;
    private readonly EmailAddressNormalizationOptions _normalization;
    private readonly int _ipv4PrefixLength;
    private readonly int _ipv6PrefixLength;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;
    private readonly RateLimitRule _dedupRule;
    private readonly RateLimitRule _countRule;
    private readonly RateLimitRule? _transientRule;
    private readonly RateLimitRule _legacyRefusalRule;
    private readonly DateTimeOffset _legacyRefusalsUntil;
    private readonly FeedbackTagSigner? _tagSigner;

    public EmailGuardFeedback(
        ResilientRateLimitStore store,
        ResilientKeyValueStore mappings,
        IEmailGuardLists? lists,
        EmailFeedbackOptions options,
        SendGuardOptions guardOptions,
        TimeProvider timeProvider,
        ILogger<EmailGuardFeedback>? logger = null,
        EmailGuardMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(mappings);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(guardOptions);
        _store = store;
        _mappings = mappings;
        _lists = lists;
        _options = options;
        _normalization = guardOptions.AddressNormalization;
        _ipv4PrefixLength = guardOptions.IPv4PrefixLength;
        _ipv6PrefixLength = guardOptions.IPv6PrefixLength;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _tagSigner = FeedbackTagSigner.Create(options.TagSigningKeys);

        // Sliding windows: a retry is a duplicate for at least the whole window, whenever within it the first copy came.
        _dedupRule = RateLimitRule.SlidingWindow(1, options.DeduplicationWindow, SegmentsFor(options.DeduplicationWindow));
        _countRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, options.CountWindow, SegmentsFor(options.CountWindow));
        _transientRule = options.TransientBounceThreshold > 0
            ? RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, options.TransientBouncePeriod, SegmentsFor(options.TransientBouncePeriod))
            : null;

        // A counter on the dedup rule's own counter: it never denies, and builds before the per-mail refusal key read it
        // with their limit of 1. Kept for two dedup windows after this instance starts: a rolling upgrade of up to one
        // window, then the window its last old instance's marks live. The in-memory store starts empty with the process,
        // so no older build's mark is in it.
        _legacyRefusalRule = _dedupRule.WithLimit(RateLimitRule.MaxLimit);
        _legacyRefusalsUntil = store.IsLocal ? DateTimeOffset.MinValue : timeProvider.GetUtcNow() + (2 * options.DeduplicationWindow);
        InitVolume();
        if (lists is null)
        {
            LogNoLists(_logger);
        }
    }

    public async ValueTask<EmailFeedbackResult> RecordAsync(EmailFeedbackEvent feedback, CancellationToken cancellationToken = default)
    {
        (string provider, string recipient) = Validate(feedback);
        string shownProvider = LogValue.Of(provider);
        string shownEventId = LogValue.Of(feedback.ProviderEventId);
        string? sendId = feedback.Attribution?.SendId;
        bool signedTags = false;
        EmailSendAttribution? attribution = feedback.Attribution ?? ReadTags(feedback, provider, out sendId, out signedTags);
        NotSentSource source = feedback.Attribution is not null ? NotSentSource.Vouched
            : signedTags ? NotSentSource.SignedTags
            : IsEmpty(attribution) ? NotSentSource.None
            : NotSentSource.UnsignedTags;
        DateTimeOffset? sentAt = feedback.SentAt;
        if (feedback.ProviderMessageId is { } messageId)
        {
            try
            {
                // This provider's own mapping first; then one that names no provider (written before mappings named it,
                // or by a transport that does not say). The mapping, written by the guard when it sent the message, wins
                // over the tags the event echoes: an app that passes a customer's own headers or tags to the provider
                // without the guarded sender's scrubbing would otherwise let that customer name another tenant in them and
                // charge its bounces there, tripping the other tenant's breaker while its own stays clear.
                string? mapping = await _mappings.GetAsync(FeedbackKeys.Message(provider, messageId), cancellationToken).ConfigureAwait(false)
                    ?? await _mappings.GetAsync(FeedbackKeys.Message(messageId), cancellationToken).ConfigureAwait(false);
                EmailSendAttribution? mapped = FeedbackKeys.Deserialize(mapping);

                // An id tracked for sends of different parties (FeedbackKeys.Shared) says nothing of whose this mail
                // was: the event's own tags, written by the guarded sender for this very mail, say it.
                if (!IsEmpty(mapped))
                {
                    attribution = mapped;
                    source = NotSentSource.Mapping;
                }

                // The guard's own time of tracking wins over the provider's: it is the send this instance admitted.
                sentAt = FeedbackKeys.TrackedAt(mapping) ?? sentAt;
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                // The tags the event carries, if any, stand in for the mapping the store could not give: the counting below
                // needs the same store and answers for it.
                if (IsEmpty(attribution))
                {
                    return Unavailable(feedback, provider, ex);
                }
            }
        }

        if (IsEmpty(attribution))
        {
            attribution = null;
            LogNoAttribution(_logger, shownProvider, feedback.Kind);
            if (feedback.ProviderMessageId is { } unmatched)
            {
                NoteUnmatched(provider, unmatched);
            }
        }

        char kind = FeedbackKeys.KindOf(feedback);

        // Mail the provider never sent (the address was on its suppression list) hurt no one's reputation, and the
        // providers leave it out of the account's rates: it is deduplicated and suppresses the address, but counts nowhere.
        bool counted = !feedback.SuppressedByProvider;
        bool provesNothing = ProvesNothingOfTheAddress(feedback, recipient, out bool guessed);
        bool transient = counted && _transientRule is not null && kind == 's' && !provesNothing;
        List<RateLimitRequest> requests = new(9)
        {
            new RateLimitRequest(FeedbackKeys.Event(provider, feedback.ProviderEventId), _dedupRule),
        };

        // A provider that retries a message a server refused posts the refusal again for every attempt, each with an event
        // id of its own (Mailgun's temporary espblock, for hours): one refused message to one recipient is one bounce, and
        // the later attempts are duplicates. Without a message id each event counts, as before. Keyed by the recipient
        // as written, not folded: a message to five spellings of one mailbox was five mails, five sends, five refusals;
        // and by the send id of the event's own tags, since mails can share a message id that a customer set.
        // A recipient that is uncertain keys no mail: a placeholder would make every recipient's refusal one.
        int legacyRefusal = -1;
        if (feedback.RejectedForMessage && !feedback.RecipientUncertain && feedback.ProviderMessageId is { } refused)
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Refusal(provider, refused, sendId, feedback.Recipient), _dedupRule));

            // Builds before that key mark a refusal under the folded recipient alone. During a rolling upgrade a provider's
            // retry lands on either build: this one adds an even cost to the old key in the same acquire, so an old
            // instance finds the refusal counted (its limit is 1), and an odd count tells this one an old instance counted
            // it first. The old key cannot tell two mails to one mailbox apart, so while an old instance's mark lives, a
            // second mail's refusal is a duplicate here too, as it is on the old instance.
            if (_timeProvider.GetUtcNow() < _legacyRefusalsUntil)
            {
                legacyRefusal = requests.Count;
                requests.Add(new RateLimitRequest(FeedbackKeys.LegacyRefusal(provider, refused, recipient), _legacyRefusalRule, LegacyRefusalCost));
            }
        }

        List<(EmailGuardDimension Dimension, string? Partition)> charged = counted ? [.. Parties(attribution)] : [];
        foreach ((EmailGuardDimension dimension, string? partition) in charged)
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Count(kind, dimension, partition), _countRule));
        }

        // The volume horizon's buckets ride in the same acquire, so a duplicate counts nothing there either.
        if (counted && VolumeOn && (kind == 'b' || kind == 'c') && !await AddVolumeFailuresAsync(kind, charged, requests, cancellationToken).ConfigureAwait(false))
        {
            return Unavailable(feedback, provider, null);
        }

        // Mail the provider never sent offsets the send the guard counted for it, in this same acquire: once per event,
        // all or nothing with it, and only for the parties the guard itself recorded for that mail (NotSentParties).
        // Not in the last-sends horizon: a bounce goes to the bucket of the party's latest send, but a late not-sent there
        // would take off a send the horizon no longer holds, and a rogue's dropped mail would shrink the horizon of the
        // parties it shares with others (the account, a sender, a pool) below the mail they really sent.
        List<(EmailGuardDimension Dimension, string? Partition)> notSent = NotSentParties(feedback, attribution, source);
        foreach ((EmailGuardDimension dimension, string? partition) in notSent)
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.NotSent, dimension, partition), _countRule));
        }

        if (notSent.Count > 0 && Breakers is { } probes)
        {
            try
            {
                await probes.AddProbeNotSentAsync(attribution!, sentAt, requests, cancellationToken).ConfigureAwait(false);
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                return Unavailable(feedback, provider, ex);
            }
        }

        if (transient)
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Transient(recipient), _transientRule!));
        }

        RateLimitRequest[] batch = [.. requests];
        RateLimitEntry[] entries = new RateLimitEntry[batch.Length];
        RateLimitDecision decision = await _store.AcquireAsync(batch, entries, StoreFailureMode.FailClosed, cancellationToken).ConfigureAwait(false);
        bool countedByOldBuild = decision.Status == RateLimitStatus.Allowed && legacyRefusal >= 0 && entries[legacyRefusal].Count % LegacyRefusalCost != 0;
        if (countedByOldBuild)
        {
            // Rare (a retry across versions during an upgrade), so the second round trip is taken only then.
            if (await _store.TryRefundAsync(batch, decision, CancellationToken.None).ConfigureAwait(false))
            {
                LogRefusalCountedByOldBuild(_logger, shownProvider, shownEventId);
            }
            else
            {
                LogRefusalCountedByOldBuildNotGivenBack(_logger, shownProvider, shownEventId);
            }
        }

        switch (countedByOldBuild ? RateLimitStatus.LimitExceeded : decision.Status)
        {
            case RateLimitStatus.Allowed:
                break;
            case RateLimitStatus.LimitExceeded:
                Record(provider, feedback.Kind, "duplicate");
                LogDuplicate(_logger, shownProvider, feedback.Kind);
                return await CompleteSuppressionAsync(feedback, provider, recipient, attribution, cancellationToken).ConfigureAwait(false)
                    ?? new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.Duplicate, Attribution = attribution };
            default:
                return Unavailable(feedback, provider, null);
        }

        (string? reason, EmailGuardPartyType partyType, string? value, TimeSpan? duration, string? category) = Suppression(feedback, recipient, attribution, transient ? entries[^1].Count : 0, provesNothing);
        if (guessed)
        {
            LogBounceOfGuessedSpelling(_logger, feedback.BounceType, shownProvider, shownEventId);
        }
        else if (feedback.RejectedForMessage)
        {
            string shownTenantId = LogValue.Of(attribution?.TenantId) ?? "none";
            LogRejectedForMessage(_logger, feedback.BounceType, shownProvider, shownEventId, shownTenantId);
        }

        EmailGuardListEntry? entry = null;
        EmailGuardListEntry? raised = null;
        if (reason is not null && _lists is not null)
        {
            try
            {
                entry = (await SuppressAsync(partyType, value!, reason, provider, duration, cancellationToken).ConfigureAwait(false)).Added;
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                // Forget the event, so the provider's retry records it and suppresses then. When the refund fails too
                // (the same outage), the retry is a duplicate, and CompleteSuppressionAsync finishes the suppression.
                await _store.TryRefundAsync(batch, decision, CancellationToken.None).ConfigureAwait(false);
                return Unavailable(feedback, provider, ex);
            }

            // A duplicate that took the claim first (it came while this delivery wrote) raises the callback for the entry,
            // whether it found this delivery's or wrote its own; the claim says who raises it, once.
            RateLimitDecision claimed = await ClaimSuppressionAsync(SuppressionClaim(provider, feedback.ProviderEventId), cancellationToken).ConfigureAwait(false);
            raised = claimed.Status == RateLimitStatus.LimitExceeded ? null : entry;
        }

        Record(provider, feedback.Kind, counted ? "recorded" : "suppressed_by_provider");
        if (counted)
        {
            string shownTenantId = LogValue.Of(attribution?.TenantId) ?? "none";
            LogRecorded(_logger, feedback.Kind, shownProvider, shownTenantId);
        }
        else
        {
            string shownTenantId = LogValue.Of(attribution?.TenantId) ?? "none";
            LogSuppressedByProvider(_logger, feedback.Kind, shownProvider, shownTenantId, reason ?? "none");
            NoteNotSent(provider, shownProvider, shownEventId, notSent.Count, source);
        }

        if (counted && Breakers is { } breakers && (kind == 'b' || kind == 'c'))
        {
            // Unattributed feedback (no tags, no tracked message id) is charged to the account alone, and the account's
            // breaker judges it all the same: it is the ratio the provider acts on.
            await breakers.EvaluateAsync(attribution ?? s_unattributed, [.. charged], complaint: kind == 'c', sentAt, cancellationToken).ConfigureAwait(false);
        }
        else if (notSent.Count > 0 && Breakers is { } judges)
        {
            // Fewer sends raised both ratios of the parties, with no failure: each is judged again, as a bounce or a
            // complaint would have it judged, so a party trips when its last diluting send is offset.
            await judges.EvaluateAsync(attribution!, [.. notSent], complaint: false, sentAt, cancellationToken, failure: false).ConfigureAwait(false);
            await judges.EvaluateAsync(attribution!, [.. notSent], complaint: true, sentAt, cancellationToken, failure: false).ConfigureAwait(false);
        }

        await RaiseAsync(feedback, recipient, attribution, raised, category, cancellationToken).ConfigureAwait(false);
        return new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.Recorded, Attribution = attribution, SuppressionReason = entry?.Reason };
    }

    private EmailFeedbackResult Unavailable(EmailFeedbackEvent feedback, string provider, Exception? exception)
    {
        Record(provider, feedback.Kind, "store_unavailable");
        LogStoreUnavailable(_logger, feedback.Kind, LogValue.Of(provider), LogValue.Of(exception));
        return new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.StoreUnavailable };
    }

    private void Record(string provider, EmailFeedbackKind kind, string outcome) => _metrics?.RecordFeedback(provider, KindName(kind), outcome);

    private static string KindName(EmailFeedbackKind kind) => kind switch
    {
        EmailFeedbackKind.Delivered => "delivered",
        EmailFeedbackKind.Bounced => "bounced",
        EmailFeedbackKind.Complained => "complained",
        _ => "unsubscribed",
    };

    /// <summary>
    /// Whether <paramref name="feedback"/> is a bounce of a spelling that reaches <paramref name="recipient"/> only by a
    /// guess of the normalizer: a plus-tag at a domain whose provider rule does not name <c>+</c>, or a source route.
    /// Such a bounce proves nothing of the mailbox it folds to (a server without sub-addressing bounces
    /// <c>ceo+x@example.com</c> while <c>ceo@example.com</c> lives), and suppressing that mailbox would let one bounced
    /// mail, which anyone who can make the app send one can cause, cut a stranger off from every tenant's mail. The
    /// counters still fold it, so the bounce counts against whoever sent it.
    /// </summary>
    private bool FoldedByGuess(EmailFeedbackEvent feedback, string recipient)
        => feedback.Kind == EmailFeedbackKind.Bounced
           && EmailAddressNormalizer.TryNormalizeWithoutGuesses(feedback.Recipient, _normalization, out NormalizedEmailAddress mailbox)
           && !string.Equals(mailbox.Address, recipient, StringComparison.Ordinal);

    /// <summary>
    /// Whether <paramref name="feedback"/> says nothing certain of <paramref name="recipient"/>'s mailbox: a bounce whose
    /// spelling reaches it only by a guess (<see cref="FoldedByGuess"/>, told in <paramref name="guessed"/>), a bounce
    /// that refused the message rather than the address (<see cref="EmailFeedbackEvent.RejectedForMessage"/>), or any
    /// event whose report is uncertain of its recipient (<see cref="EmailFeedbackEvent.RecipientUncertain"/>). It counts
    /// against its sender, but neither suppresses the address nor counts toward its soft bounces.
    /// </summary>
    private bool ProvesNothingOfTheAddress(EmailFeedbackEvent feedback, string recipient, out bool guessed)
    {
        guessed = FoldedByGuess(feedback, recipient);
        return guessed || feedback.RecipientUncertain || (feedback.Kind == EmailFeedbackKind.Bounced && feedback.RejectedForMessage);
    }

    private static bool IsEmpty(EmailSendAttribution? attribution)
        => attribution is null
           || (attribution.TenantId is null && attribution.TenantPool is null && attribution.UserId is null && attribution.Sender is null && attribution.Category is null && attribution.ClientNetwork is null);
}
