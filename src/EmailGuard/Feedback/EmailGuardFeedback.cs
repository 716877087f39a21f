using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// Records provider feedback. One atomic acquire on the rate-limit store does the deduplication and the counting: a
/// key per (provider, event id) with a limit of 1 over <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, plus the
/// per-party counters (limit <see cref="RateLimitRule.MaxLimit"/>). The store admits all or none, so a duplicate
/// counts nothing, on every instance and both stores alike. Suppression goes on the shared blocklist afterwards; when
/// that write fails the acquire is refunded and the caller told to retry, so a lost write is never a lost suppression.
/// </summary>
internal sealed partial class EmailGuardFeedback : IEmailGuardFeedback, IEmailFeedbackCounts
{
    private const int MaxProviderLength = 32;
    private const int MaxIdLength = 1024;
    private const int MaxCategoryLength = 256;

    private readonly ResilientRateLimitStore _store;
    private readonly ResilientKeyValueStore _mappings;
    private readonly IEmailGuardLists? _lists;
    private readonly EmailFeedbackOptions _options;
    private readonly EmailAddressNormalizationOptions _normalization;
    private readonly int _ipv6PrefixLength;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;
    private readonly RateLimitRule _dedupRule;
    private readonly RateLimitRule _countRule;
    private readonly RateLimitRule? _transientRule;

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
        _ipv6PrefixLength = guardOptions.IPv6PrefixLength;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;

        // Sliding windows: a retry is a duplicate for at least the whole window, whenever within it the first copy came.
        _dedupRule = RateLimitRule.SlidingWindow(1, options.DeduplicationWindow, SegmentsFor(options.DeduplicationWindow));
        _countRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, options.CountWindow, SegmentsFor(options.CountWindow));
        _transientRule = options.TransientBounceThreshold > 0
            ? RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, options.TransientBouncePeriod, SegmentsFor(options.TransientBouncePeriod))
            : null;
        if (lists is null)
        {
            LogNoLists(_logger);
        }
    }

    public async ValueTask<EmailFeedbackResult> RecordAsync(EmailFeedbackEvent feedback, CancellationToken cancellationToken = default)
    {
        (string provider, string recipient) = Validate(feedback);
        EmailSendAttribution? attribution = feedback.Attribution;
        if (IsEmpty(attribution) && feedback.ProviderMessageId is { } messageId)
        {
            try
            {
                attribution = FeedbackKeys.Deserialize(await _mappings.GetAsync(FeedbackKeys.Message(messageId), cancellationToken).ConfigureAwait(false)) ?? attribution;
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                return Unavailable(feedback, provider, ex);
            }
        }

        if (IsEmpty(attribution))
        {
            attribution = null;
            LogNoAttribution(_logger, provider, feedback.Kind);
        }

        char kind = FeedbackKeys.KindOf(feedback.Kind, feedback.BounceType);
        bool transient = _transientRule is not null && kind == 's';
        List<RateLimitRequest> requests = new(9)
        {
            new RateLimitRequest(FeedbackKeys.Event(provider, feedback.ProviderEventId), _dedupRule),
        };
        foreach ((EmailGuardDimension dimension, string? partition) in Parties(attribution))
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Count(kind, dimension, partition), _countRule));
        }

        if (transient)
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Transient(recipient), _transientRule!));
        }

        RateLimitRequest[] batch = [.. requests];
        RateLimitEntry[] entries = new RateLimitEntry[batch.Length];
        RateLimitDecision decision = await _store.AcquireAsync(batch, entries, StoreFailureMode.FailClosed, cancellationToken).ConfigureAwait(false);
        switch (decision.Status)
        {
            case RateLimitStatus.Allowed:
                break;
            case RateLimitStatus.LimitExceeded:
                Record(provider, feedback.Kind, "duplicate");
                LogDuplicate(_logger, provider, feedback.Kind);
                return new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.Duplicate, Attribution = attribution };
            default:
                return Unavailable(feedback, provider, null);
        }

        (string? reason, EmailGuardPartyType partyType, string? value, TimeSpan? duration, string? category) = Suppression(feedback, recipient, attribution, transient ? entries[^1].Count : 0);
        EmailGuardListEntry? entry = null;
        if (reason is not null && _lists is not null)
        {
            try
            {
                entry = await SuppressAsync(partyType, value!, reason, provider, duration, cancellationToken).ConfigureAwait(false);
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                // Forget the event, so the provider's retry records it and suppresses then.
                await _store.TryRefundAsync(batch, decision, CancellationToken.None).ConfigureAwait(false);
                return Unavailable(feedback, provider, ex);
            }
        }

        Record(provider, feedback.Kind, "recorded");
        LogRecorded(_logger, feedback.Kind, provider, attribution?.TenantId);
        if (Breakers is { } breakers && attribution is not null && (kind == 'b' || kind == 'c'))
        {
            await breakers.EvaluateAsync(attribution, [.. Parties(attribution)], complaint: kind == 'c', cancellationToken).ConfigureAwait(false);
        }

        await RaiseAsync(feedback, recipient, attribution, entry, category).ConfigureAwait(false);
        return new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.Recorded, Attribution = attribution, SuppressionReason = entry?.Reason };
    }

    /// <summary>The ratio breakers, evaluated after each recorded hard bounce or complaint; null when none are registered.</summary>
    internal RatioBreaker? Breakers { get; set; }

    /// <summary>
    /// Counts an admitted message against every party its attribution names, the denominator of the ratios. Never
    /// throws: a store that does not answer loses the count, which only makes the ratios more cautious.
    /// </summary>
    internal void CountSend(EmailSendAttribution attribution)
    {
        List<RateLimitRequest> requests = new(6);
        foreach ((EmailGuardDimension dimension, string? partition) in Parties(attribution))
        {
            requests.Add(new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.Sends, dimension, partition), _countRule));
        }

        RateLimitRequest[] batch = [.. requests];
        ValueTask<RateLimitDecision> pending = _store.AcquireAsync(batch, new RateLimitEntry[batch.Length], StoreFailureMode.FailOpen, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask<RateLimitDecision> pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogSendCountFailed(_logger, ex);
        }
    }

    public async ValueTask TrackAsync(string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default)
    {
        CheckId(providerMessageId, nameof(providerMessageId));
        ArgumentNullException.ThrowIfNull(attribution);
        try
        {
            await _mappings.SetAsync(FeedbackKeys.Message(providerMessageId), FeedbackKeys.Serialize(attribution), _options.AttributionLifetime, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            // The mail is already with the provider: failing the send now would only make the app send it twice.
            LogTrackFailed(_logger, ex);
        }
    }

    public async ValueTask<EmailFeedbackCounts> GetAsync(EmailGuardDimension dimension, string? partition, CancellationToken cancellationToken = default)
    {
        string? canonical = dimension == EmailGuardDimension.Global
            ? null
            : Canonical(dimension, partition) ?? throw new ArgumentException($"'{partition}' is not a valid {dimension} partition.", nameof(partition));
        return (await ReadAsync([(dimension, canonical)], cancellationToken).ConfigureAwait(false))[0];
    }

    public async ValueTask<IReadOnlyList<EmailFeedbackCounts>> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        List<(EmailGuardDimension, string?)> parties = [(EmailGuardDimension.Global, null)];
        void Add(EmailGuardDimension dimension, string? value)
        {
            if (value is not null)
            {
                parties.Add((dimension, Canonical(dimension, value) ?? throw new ArgumentException($"'{value}' is not a valid {dimension} partition.", nameof(query))));
            }
        }

        Add(EmailGuardDimension.Tenant, query.TenantId);
        Add(EmailGuardDimension.User, query.UserId);
        Add(EmailGuardDimension.Sender, query.Sender);
        Add(EmailGuardDimension.Category, query.Category);
        if (query.ClientIp is { } ip)
        {
            parties.Add((EmailGuardDimension.ClientIp, FeedbackKeys.Cidr(ip, _ipv6PrefixLength)));
        }

        return await ReadAsync(parties, cancellationToken).ConfigureAwait(false);
    }

    internal async ValueTask<EmailFeedbackCounts[]> ReadAsync(List<(EmailGuardDimension Dimension, string? Partition)> parties, CancellationToken cancellationToken)
    {
        int kinds = FeedbackKeys.Kinds.Length;
        RateLimitRequest[] requests = new RateLimitRequest[parties.Count * kinds];
        for (int p = 0; p < parties.Count; p++)
        {
            for (int k = 0; k < kinds; k++)
            {
                requests[(p * kinds) + k] = new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.Kinds[k], parties[p].Dimension, parties[p].Partition), _countRule, 0);
            }
        }

        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await _store.PeekAsync(requests, entries, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            throw new EmailGuardStoreUnavailableException("The EmailGuard store did not answer: the feedback counts could not be read.");
        }

        EmailFeedbackCounts[] counts = new EmailFeedbackCounts[parties.Count];
        for (int p = 0; p < parties.Count; p++)
        {
            int at = p * kinds;
            counts[p] = new EmailFeedbackCounts
            {
                Dimension = parties[p].Dimension,
                Partition = parties[p].Partition,
                Delivered = entries[at].Count,
                Bounces = entries[at + 1].Count,
                TransientBounces = entries[at + 2].Count,
                Complaints = entries[at + 3].Count,
                Unsubscribes = entries[at + 4].Count,
                Sends = entries[at + 5].Count,
                Window = _options.CountWindow,
                Timestamp = decision.Timestamp,
            };
        }

        return counts;
    }

    /// <summary>The canonical form a partition is counted under, or null when it is not valid for its dimension.</summary>
    private string? Canonical(EmailGuardDimension dimension, string? partition)
    {
        switch (dimension)
        {
            case EmailGuardDimension.Global:
                return string.Empty;
            case EmailGuardDimension.Tenant:
            case EmailGuardDimension.User:
                return string.IsNullOrEmpty(partition) || partition.Length > MaxIdLength ? null : partition;
            case EmailGuardDimension.Sender:
                return partition is not null && EmailAddressNormalizer.TryNormalize(partition, _normalization, out NormalizedEmailAddress sender, out _) ? sender.Address : null;
            case EmailGuardDimension.Category:
                return string.IsNullOrWhiteSpace(partition) || partition.Length > MaxCategoryLength ? null : partition.ToLowerInvariant();
            case EmailGuardDimension.ClientIp:
                return FeedbackKeys.Network(partition, _ipv6PrefixLength);
            default:
                throw new ArgumentException(
                    $"Feedback is counted per Global, Tenant, User, Sender, Category and ClientIp; not per {dimension}.", nameof(dimension));
        }
    }

    /// <summary>The parties an event is charged to: all mail, and each party the attribution names validly.</summary>
    private IEnumerable<(EmailGuardDimension, string?)> Parties(EmailSendAttribution? attribution)
    {
        yield return (EmailGuardDimension.Global, null);
        if (attribution is null)
        {
            yield break;
        }

        // Echoed tags are input from outside: a value that is not valid for its party is not counted, never thrown.
        (EmailGuardDimension, string?)[] named =
        [
            (EmailGuardDimension.Tenant, attribution.TenantId),
            (EmailGuardDimension.User, attribution.UserId),
            (EmailGuardDimension.Sender, attribution.Sender),
            (EmailGuardDimension.Category, attribution.Category),
            (EmailGuardDimension.ClientIp, attribution.ClientNetwork),
        ];
        foreach ((EmailGuardDimension dimension, string? value) in named)
        {
            if (value is not null && Canonical(dimension, value) is { } canonical)
            {
                yield return (dimension, canonical);
            }
        }
    }

    private (string? Reason, EmailGuardPartyType PartyType, string? Value, TimeSpan? Duration, string? Category) Suppression(
        EmailFeedbackEvent feedback, string recipient, EmailSendAttribution? attribution, long transientCount)
    {
        switch (feedback.Kind)
        {
            case EmailFeedbackKind.Bounced when feedback.BounceType == EmailBounceType.Permanent:
                return (EmailFeedbackSuppressionReasons.HardBounce, EmailGuardPartyType.Recipient, recipient, _options.HardBounceSuppression, null);
            case EmailFeedbackKind.Bounced when transientCount >= _options.TransientBounceThreshold && _options.TransientBounceThreshold > 0:
                return (EmailFeedbackSuppressionReasons.TransientBounces, EmailGuardPartyType.Recipient, recipient, _options.TransientBounceSuppression, null);
            case EmailFeedbackKind.Complained:
                return (EmailFeedbackSuppressionReasons.Complaint, EmailGuardPartyType.Recipient, recipient, _options.ComplaintSuppression, null);
            case EmailFeedbackKind.Unsubscribed:
                string? category = feedback.Category ?? attribution?.Category;
                if (string.IsNullOrWhiteSpace(category) || category.Length > MaxCategoryLength)
                {
                    LogUnsubscribeWithoutCategory(_logger, feedback.Provider);
                    return (null, default, null, null, null);
                }

                return (EmailFeedbackSuppressionReasons.Unsubscribe, EmailGuardPartyType.CategoryRecipient,
                    GuardPartyValues.CategoryRecipient(category, recipient), _options.UnsubscribeSuppression, category.ToLowerInvariant());
            default:
                return (null, default, null, null, null);
        }
    }

    /// <summary>Puts the party on the blocklist unless an entry at least as long is already there (a manual block is never shortened).</summary>
    private async ValueTask<EmailGuardListEntry?> SuppressAsync(
        EmailGuardPartyType partyType, string value, string reason, string provider, TimeSpan? duration, CancellationToken cancellationToken)
    {
        EmailGuardListEntry? existing = await _lists!.FindAsync(EmailGuardListKind.Blocklist, partyType, value, cancellationToken).ConfigureAwait(false);
        DateTimeOffset? expiresAt = duration is { } d ? _timeProvider.GetUtcNow() + d : null;
        if (existing is not null && (existing.ExpiresAt is null || (expiresAt is { } ours && existing.ExpiresAt >= ours)))
        {
            return null;
        }

        EmailGuardListEntry entry = await _lists.AddAsync(
            EmailGuardListKind.Blocklist, partyType, value, reason, "emailguard:feedback:" + provider, duration, cancellationToken).ConfigureAwait(false);
        LogSuppressed(_logger, reason, partyType, provider, entry.ExpiresAt);
        return entry;
    }

    private async ValueTask RaiseAsync(EmailFeedbackEvent feedback, string recipient, EmailSendAttribution? attribution, EmailGuardListEntry? entry, string? category)
    {
        EmailFeedbackEvents events = _options.Events;
        Func<EmailFeedbackArguments, ValueTask>? callback = feedback.Kind switch
        {
            EmailFeedbackKind.Bounced => events.OnBounce,
            EmailFeedbackKind.Complained => events.OnComplaint,
            _ => null,
        };
        if (callback is not null)
        {
            await InvokeAsync(callback, new EmailFeedbackArguments { Event = feedback, Attribution = attribution, Recipient = recipient }).ConfigureAwait(false);
        }

        if (entry is not null && events.OnSuppressed is { } onSuppressed)
        {
            await InvokeAsync(onSuppressed, new EmailSuppressionArguments
            {
                Event = feedback,
                Attribution = attribution,
                Recipient = recipient,
                Reason = entry.Reason,
                Category = category,
                Entry = entry,
            }).ConfigureAwait(false);
        }
    }

    private async ValueTask InvokeAsync<TArgs>(Func<TArgs, ValueTask> callback, TArgs arguments)
    {
        try
        {
            await callback(arguments).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogCallbackFailed(_logger, ex);
        }
    }

    private EmailFeedbackResult Unavailable(EmailFeedbackEvent feedback, string provider, Exception? exception)
    {
        Record(provider, feedback.Kind, "store_unavailable");
        LogStoreUnavailable(_logger, feedback.Kind, provider, exception);
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

    private (string Provider, string Recipient) Validate(EmailFeedbackEvent feedback)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        string provider = feedback.Provider;
        if (string.IsNullOrEmpty(provider) || provider.Length > MaxProviderLength || !provider.All(static c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
        {
            throw new ArgumentException(
                $"Provider must be 1 to {MaxProviderLength} lower-case ASCII letters, digits, '_' or '-', such as 'ses'; it was '{Truncate(provider)}'.", nameof(feedback));
        }

        CheckId(feedback.ProviderEventId, "feedback.ProviderEventId");
        if (feedback.ProviderMessageId is not null)
        {
            CheckId(feedback.ProviderMessageId, "feedback.ProviderMessageId");
        }

        if (feedback.Kind is not (EmailFeedbackKind.Delivered or EmailFeedbackKind.Bounced or EmailFeedbackKind.Complained or EmailFeedbackKind.Unsubscribed))
        {
            throw new ArgumentException($"Kind must be Delivered, Bounced, Complained or Unsubscribed; it was {feedback.Kind}.", nameof(feedback));
        }

        if (feedback.Kind == EmailFeedbackKind.Bounced
            ? feedback.BounceType is not (EmailBounceType.Permanent or EmailBounceType.Transient or EmailBounceType.Undetermined)
            : feedback.BounceType != EmailBounceType.None)
        {
            throw new ArgumentException(
                $"BounceType must be Permanent, Transient or Undetermined (when the provider does not say) for a bounce, and None otherwise; it was {feedback.BounceType} for {feedback.Kind}.",
                nameof(feedback));
        }

        if (feedback.Category is { Length: > MaxCategoryLength })
        {
            throw new ArgumentException($"Category must be at most {MaxCategoryLength} characters long.", nameof(feedback));
        }

        if (!EmailAddressNormalizer.TryNormalize(feedback.Recipient, _normalization, out NormalizedEmailAddress recipient, out string? error))
        {
            throw new ArgumentException($"Recipient is not a valid address: {error}", nameof(feedback));
        }

        return (provider, recipient.Address);
    }

    private static void CheckId(string? id, string name)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > MaxIdLength)
        {
            throw new ArgumentException($"{name} must be 1 to {MaxIdLength} characters, not blank.", name);
        }
    }

    private static bool IsEmpty(EmailSendAttribution? attribution)
        => attribution is null
           || (attribution.TenantId is null && attribution.UserId is null && attribution.Sender is null && attribution.Category is null && attribution.ClientNetwork is null);

    private static string Truncate(string? text) => text is null ? "(null)" : text.Length <= 40 ? text : text[..40] + "…";

    /// <summary>Segments that divide the window into whole milliseconds: the most of a few sensible counts.</summary>
    internal static int SegmentsFor(TimeSpan window)
    {
        long ms = (long)window.TotalMilliseconds;
        foreach (int segments in (ReadOnlySpan<int>)[24, 12, 10, 8, 6, 5, 4, 3, 2])
        {
            if (ms % segments == 0)
            {
                return segments;
            }
        }

        return 1;
    }
}
