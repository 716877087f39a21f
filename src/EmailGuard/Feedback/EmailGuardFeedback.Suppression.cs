using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>Which party a bounce or complaint suppresses, and the blocklist write that does it.</summary>
internal sealed partial class EmailGuardFeedback
{
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
            EmailGuardListKind.Blocklist, partyType, value, reason, duration, "emailguard:feedback:" + provider, cancellationToken).ConfigureAwait(false);
        if (_logger.IsEnabled(LogLevel.Information))
        {
            string expiry = entry.ExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never";
            LogSuppressed(_logger, reason, partyType, provider, expiry);
        }

        return entry;
    }
}
