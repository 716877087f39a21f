using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The content steps of a check, after the counters: a denial by the content rules counts towards the party's
/// <see cref="EmailGuardFlagReasons.BulkContent"/> flag; an admitted message goes to the content inspector, whose
/// deny gives the permits back and whose flag flags the user (or tenant). Only for messages that carry content.
/// </summary>
internal sealed partial class EmailSendGuard
{
    private ContentInspection? _inspection;
    private BulkContentMonitor? _bulkContent;
    private IEmailGuardFlags? _flags;

    /// <summary>Gets the app's content inspector; set by the DI registration.</summary>
    internal IEmailContentInspector? ContentInspector
    {
        get => _inspection?.Inspector;
        init => _inspection = value is null ? null : new ContentInspection(value, _options.ContentInspection, _timeProvider, _logger, _metrics);
    }

    /// <summary>Gets the flags the content steps raise; set by the DI registration.</summary>
    internal IEmailGuardFlags? Flags
    {
        get => _flags;
        init
        {
            // Whether or not the Content rules start with any: a reload may add them (SendGuardReload), and their denials
            // then count towards the flag as documented; a check reads whether there are any now (HasContentSteps).
            _flags = value;
            _bulkContent = value is null ? null : new BulkContentMonitor(_options.BulkContent, _store, value, _timeProvider, _logger);
            if (_bulkContent is { Enabled: false })
            {
                _bulkContent = null;
            }
        }
    }

    /// <summary>
    /// Whether a content step applies to the message: it carries content, and an inspector is on, or the bulk content
    /// monitor is and the caps in force have Content rules to trip it.
    /// </summary>
    private bool HasContentSteps(OutboundEmail message)
        => message.Content is not null && (_inspection is not null || (_bulkContent is not null && _caps.Rules.Content.Length != 0));

    /// <summary>Adds the content steps to a commit's decision when the message carries content and a step applies.</summary>
    /// <remarks>
    /// The bulk content count and the flags wait within the check's store time <paramref name="budget"/>; the content
    /// inspector is the app's call, not a store's, and keeps its own <see cref="ContentInspectionOptions.Timeout"/>.
    /// </remarks>
    private ValueTask<EmailSendDecision> WithContentSteps(OutboundEmail message, ValueTask<EmailSendDecision> pending, StoreTimeBudget budget, CancellationToken cancellationToken)
    {
        if (!HasContentSteps(message) || message.Content is not { } content)
        {
            return pending;
        }

        if (pending.IsCompletedSuccessfully)
        {
            // Read once and handed on as a new value: a ValueTask may be consumed only once.
            EmailSendDecision decided = pending.Result;
            pending = new(decided);
            if (!NeedsContentStep(decided))
            {
                return pending;
            }
        }

        return ContentStepsAsync(message, content, pending, budget, cancellationToken);
    }

    private bool NeedsContentStep(in EmailSendDecision decision)
        => (decision.IsAllowed && _inspection is not null)
            || (_bulkContent is not null && decision.Reason == EmailSendReason.LimitExceeded && decision.Dimension == EmailGuardDimension.Content);

    private async ValueTask<EmailSendDecision> ContentStepsAsync(
        OutboundEmail message, EmailContent content, ValueTask<EmailSendDecision> pending, StoreTimeBudget budget, CancellationToken cancellationToken)
    {
        EmailSendDecision decision = await pending.ConfigureAwait(false);
        if (decision.Reason == EmailSendReason.LimitExceeded && decision.Dimension == EmailGuardDimension.Content)
        {
            if (_bulkContent is not null)
            {
                // A trip only for a party whose own copies alone exceed the rule: the text's counter may hold others' copies.
                await _bulkContent.RecordTripAsync(message, ContentOwnCopies.Tripped(decision.UsageValues), budget).ConfigureAwait(false);
            }

            return decision;
        }

        if (!decision.IsAllowed || _inspection is null)
        {
            return decision;
        }

        EmailContentVerdict verdict;
        long inspecting = _timeProvider.GetTimestamp();
        try
        {
            verdict = await _inspection.InspectAsync(message, content, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The caller gave up and will not send: the message must not count.
            await GiveBackAsync(decision, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        // The inspector is the app's call with its own timeout, not a store's: the flag and the fan-out step after it
        // get the store time the counters left.
        budget.Exclude(inspecting);
        switch (verdict.Kind)
        {
            case EmailContentVerdictKind.Allow:
                return decision;
            case EmailContentVerdictKind.Flag:
                await FlagForContentAsync(message, verdict.Reason!, budget).ConfigureAwait(false);
                return decision;
            default:
                await GiveBackAsync(decision, CancellationToken.None).ConfigureAwait(false);
                string shownReason = LogValue.Of(verdict.Reason) ?? ContentInspection.None, shownTenantId = LogValue.Of(message.TenantId) ?? ContentInspection.None, shownUserId = LogValue.Of(message.UserId) ?? ContentInspection.None;
                LogContentRejected(_logger, shownReason, shownTenantId, shownUserId);
                return new EmailSendDecision(
                    EmailSendReason.ContentRejected, EmailGuardDimension.Content, null, null, null, $"Content rejected: {verdict.Reason}", TimeSpan.MaxValue, _timeProvider.GetUtcNow(), null);
        }
    }

    /// <summary>Flags the message's user, or without one its tenant, with the inspector's reason; best effort, waited for within what is left of the check's budget.</summary>
    private async ValueTask FlagForContentAsync(OutboundEmail message, string reason, StoreTimeBudget budget)
    {
        (EmailGuardPartyType partyType, string? partyId) = message.UserId is { } user
            ? (EmailGuardPartyType.User, user)
            : (EmailGuardPartyType.Tenant, message.TenantId);
        if (_flags is null || partyId is null)
        {
            LogContentFlagged(_logger, LogValue.Of(reason), partyType, LogValue.Of(partyId) ?? ContentInspection.None, _flags is null ? "was not flagged, because flags are not registered" : "was not flagged, because the message names neither user nor tenant");
            return;
        }

        try
        {
            await BoundedCall.WaitAsync(
                _flags.FlagAsync(partyType, partyId, reason.Trim(), flaggedBy: "emailguard:content_inspector", cancellationToken: CancellationToken.None),
                budget.Wait(),
                _timeProvider,
                CancellationToken.None).ConfigureAwait(false);
            LogContentFlagged(_logger, LogValue.Of(reason), partyType, LogValue.Of(partyId), "was flagged");
        }
        catch (Exception exception)
        {
            // The message was admitted and goes out; a flag that could not be written must not turn into a failed send.
            LogContentFlagFailed(_logger, LogValue.Of(exception), LogValue.Of(reason), partyType, LogValue.Of(partyId));
        }
    }

    [LoggerMessage(EventId = 2200, EventName = "SendContentRejected", Level = LogLevel.Information,
        Message = "Send denied: the content inspector rejected the content ({Reason}); tenant {TenantId}, user {UserId}.")]
    private static partial void LogContentRejected(ILogger logger, string reason, string tenantId, string userId);

    [LoggerMessage(EventId = 2201, EventName = "SendContentFlagged", Level = LogLevel.Warning,
        Message = "The content inspector flagged a message for {Reason}; the {PartyType} {PartyId} {Outcome}.")]
    private static partial void LogContentFlagged(ILogger logger, string reason, EmailGuardPartyType partyType, string partyId, string outcome);

    [LoggerMessage(EventId = 2204, EventName = "SendContentFlagFailed", Level = LogLevel.Warning,
        Message = "The content inspector flagged a message ({Reason}), but the {PartyType} {PartyId} could not be flagged.")]
    private static partial void LogContentFlagFailed(ILogger logger, Exception exception, string reason, EmailGuardPartyType partyType, string partyId);
}
