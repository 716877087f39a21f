using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>Which party a bounce or complaint suppresses, and the blocklist write that does it.</summary>
internal sealed partial class EmailGuardFeedback
{
    /// <summary>What a suppression's blocklist entry names as its author, before the provider's name.</summary>
    private const string SuppressedByPrefix = "emailguard:feedback:";

    /// <summary>
    /// How recently a blocklist entry written by feedback must have been made for a duplicate's completion to take it as
    /// the recorded delivery's of the same event (see <see cref="WrittenForThisEvent"/>).
    /// </summary>
    private static readonly TimeSpan RecentSuppression = TimeSpan.FromMinutes(1);

    private (string? Reason, EmailGuardPartyType PartyType, string? Value, TimeSpan? Duration, string? Category) Suppression(
        EmailFeedbackEvent feedback, string recipient, EmailSendAttribution? attribution, long transientCount, bool provesNothingOfTheAddress)
    {
        if (feedback.RecipientUncertain)
        {
            // Whoever repeated the provider's field chose one of the copies: the address may be anyone's.
            return (null, default, null, null, null);
        }

        switch (feedback.Kind)
        {
            case EmailFeedbackKind.Bounced when provesNothingOfTheAddress:
                // See ProvesNothingOfTheAddress: the spelling only folds to it by a guess, or the message was refused.
                return (null, default, null, null, null);
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
                    string? shownProvider = LogValue.Of(feedback.Provider);
                    LogUnsubscribeWithoutCategory(_logger, shownProvider);
                    return (null, default, null, null, null);
                }

                return (EmailFeedbackSuppressionReasons.Unsubscribe, EmailGuardPartyType.CategoryRecipient,
                    GuardPartyValues.CategoryRecipient(category, recipient), _options.UnsubscribeSuppression, category.ToLowerInvariant());
            default:
                return (null, default, null, null, null);
        }
    }

    /// <summary>
    /// Marks the suppression of an event as done, once it is on the blocklist. Best effort: without the mark, a duplicate
    /// of the event suppresses again (a no-op while the entry stands).
    /// </summary>
    private ValueTask<RateLimitDecision> ClaimSuppressionAsync(RateLimitRequest[] claim, CancellationToken cancellationToken)
        => _store.AcquireAsync(claim, new RateLimitEntry[1], StoreFailureMode.FailClosed, cancellationToken);

    private RateLimitRequest[] SuppressionClaim(string provider, string providerEventId)
        => [new RateLimitRequest(FeedbackKeys.Suppressed(provider, providerEventId), _dedupRule)];

    /// <summary>
    /// For a duplicate of a hard bounce, a complaint or an unsubscribe: suppresses the address when no delivery of the
    /// event has done it yet. The first delivery's blocklist write can fail after its counts were taken, and its refund
    /// in the same outage: its dedup mark then stays, and without this every retry would be a duplicate and the
    /// address never suppressed. A suppression an operator lifted since is not put back: the first delivery marked it
    /// done. Null when there is nothing to complete.
    /// </summary>
    private async ValueTask<EmailFeedbackResult?> CompleteSuppressionAsync(
        EmailFeedbackEvent feedback, string provider, string recipient, EmailSendAttribution? attribution, CancellationToken cancellationToken)
    {
        // An unsubscribe without a category suppresses nothing; its duplicates need not say so again (event 1707).
        bool suppressing = !feedback.RecipientUncertain && (feedback.Kind == EmailFeedbackKind.Complained
            || (feedback.Kind == EmailFeedbackKind.Bounced && feedback.BounceType == EmailBounceType.Permanent && !feedback.RejectedForMessage)
            || (feedback.Kind == EmailFeedbackKind.Unsubscribed && !string.IsNullOrWhiteSpace(feedback.Category ?? attribution?.Category)));
        if (_lists is null || !suppressing)
        {
            return null;
        }

        (string? reason, EmailGuardPartyType partyType, string? value, TimeSpan? duration, string? category) = Suppression(feedback, recipient, attribution, 0, ProvesNothingOfTheAddress(feedback, recipient, out _));
        if (reason is null)
        {
            return null;
        }

        RateLimitRequest[] claim = SuppressionClaim(provider, feedback.ProviderEventId);
        RateLimitDecision claimed = await ClaimSuppressionAsync(claim, cancellationToken).ConfigureAwait(false);
        switch (claimed.Status)
        {
            case RateLimitStatus.Allowed:
                break;
            case RateLimitStatus.LimitExceeded:
                return null;
            default:
                return Unavailable(feedback, provider, null);
        }

        Suppressed suppressed;
        try
        {
            suppressed = await SuppressAsync(partyType, value!, reason, provider, duration, cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            await _store.TryRefundAsync(claim, claimed, CancellationToken.None).ConfigureAwait(false);
            return Unavailable(feedback, provider, ex);
        }

        // This delivery holds the claim, so the callback is its to raise: for the entry it wrote, or for the one the
        // recorded delivery wrote just before (that delivery takes the claim after its write, finds it taken, and
        // leaves the callback to this one). An entry from before the event suppressed nothing new.
        EmailGuardListEntry? entry = suppressed.Added
            ?? (suppressed.Existing is { } existing && WrittenForThisEvent(existing, reason, provider) ? existing : null);
        LogSuppressionCompleted(_logger, feedback.Kind, LogValue.Of(provider));
        await RaiseSuppressedAsync(feedback, recipient, attribution, entry, category).ConfigureAwait(false);
        return new EmailFeedbackResult { Outcome = EmailFeedbackOutcome.Duplicate, Attribution = attribution, SuppressionReason = entry?.Reason };
    }

    /// <summary>
    /// Whether a blocklist entry found by a duplicate's completion is the one the recorded delivery of the same event
    /// wrote moments before: written by feedback from this provider, for this reason, within
    /// <see cref="RecentSuppression"/> (the instances' clocks may differ by a little).
    /// </summary>
    private bool WrittenForThisEvent(EmailGuardListEntry existing, string reason, string provider)
        => string.Equals(existing.Reason, reason, StringComparison.Ordinal)
            && string.Equals(existing.CreatedBy, SuppressedByPrefix + provider, StringComparison.Ordinal)
            && existing.CreatedAt >= _timeProvider.GetUtcNow() - RecentSuppression;

    /// <summary>
    /// Puts the party on the blocklist unless an entry at least as long is already there (a manual block is never
    /// shortened): the entry written, or the one found instead.
    /// </summary>
    private async ValueTask<Suppressed> SuppressAsync(
        EmailGuardPartyType partyType, string value, string reason, string provider, TimeSpan? duration, CancellationToken cancellationToken)
    {
        EmailGuardListEntry? existing = await _lists!.FindAsync(EmailGuardListKind.Blocklist, partyType, value, cancellationToken).ConfigureAwait(false);
        DateTimeOffset? expiresAt = duration is { } d ? _timeProvider.GetUtcNow() + d : null;
        if (existing is not null && (existing.ExpiresAt is null || (expiresAt is { } ours && existing.ExpiresAt >= ours)))
        {
            return new Suppressed(null, existing);
        }

        EmailGuardListEntry entry = await _lists.AddAsync(
            EmailGuardListKind.Blocklist, partyType, value, reason, duration, SuppressedByPrefix + provider, cancellationToken).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            string expiry = entry.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never";
            string shownReason = LogValue.Of(reason), shownProvider = LogValue.Of(provider);
            LogSuppressed(_logger, shownReason, partyType, shownProvider, expiry);
        }

        return new Suppressed(entry, null);
    }

    /// <summary>What a suppression did: the entry it wrote, or the entry at least as long that it found instead.</summary>
    private readonly record struct Suppressed(EmailGuardListEntry? Added, EmailGuardListEntry? Existing);
}
