using Microsoft.Extensions.Logging;

namespace EmailGuard;

internal sealed partial class EmailGuardFeedback
{
    [LoggerMessage(EventId = 1700, EventName = "FeedbackRecorded", Level = LogLevel.Debug,
        Message = "Feedback {Kind} from {Provider} was recorded; tenant: {TenantId}.")]
    private static partial void LogRecorded(ILogger logger, EmailFeedbackKind kind, string provider, string tenantId);

    [LoggerMessage(EventId = 1701, EventName = "FeedbackDuplicate", Level = LogLevel.Debug,
        Message = "Feedback {Kind} from {Provider} had been recorded before; the duplicate changed nothing.")]
    private static partial void LogDuplicate(ILogger logger, string provider, EmailFeedbackKind kind);

    [LoggerMessage(EventId = 1702, EventName = "FeedbackStoreUnavailable", Level = LogLevel.Warning,
        Message = "Feedback {Kind} from {Provider} was not recorded because the store did not answer; the provider should retry it.")]
    private static partial void LogStoreUnavailable(ILogger logger, EmailFeedbackKind kind, string provider, Exception? exception);

    [LoggerMessage(EventId = 1703, EventName = "RecipientSuppressed", Level = LogLevel.Information,
        Message = "Feedback from {Provider} put a {PartyType} on the blocklist for {Reason}; expiry: {ExpiresAt}.")]
    private static partial void LogSuppressed(ILogger logger, string reason, EmailGuardPartyType partyType, string provider, string expiresAt);

    [LoggerMessage(EventId = 1704, EventName = "FeedbackCallbackFailed", Level = LogLevel.Warning,
        Message = "A feedback event callback threw; the event was recorded all the same.")]
    private static partial void LogCallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1705, EventName = "AttributionTrackFailed", Level = LogLevel.Warning,
        Message = "The message-id mapping of a sent message could not be stored; feedback about it is counted only if the provider echoes the tags.")]
    private static partial void LogTrackFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1706, EventName = "FeedbackWithoutAttribution", Level = LogLevel.Debug,
        Message = "Feedback {Kind} from {Provider} carries no attribution and its message id is not mapped; it counts for all mail only.")]
    private static partial void LogNoAttribution(ILogger logger, string provider, EmailFeedbackKind kind);

    [LoggerMessage(EventId = 1707, EventName = "UnsubscribeWithoutCategory", Level = LogLevel.Information,
        Message = "An unsubscribe from {Provider} names no category, so it suppresses nothing; give messages a category to honour unsubscribes.")]
    private static partial void LogUnsubscribeWithoutCategory(ILogger logger, string provider);

    [LoggerMessage(EventId = 1708, EventName = "FeedbackWithoutLists", Level = LogLevel.Warning,
        Message = "Feedback is recorded but the send guard is not registered, so bounces and complaints suppress nothing; call AddSendGuard().")]
    private static partial void LogNoLists(ILogger logger);

    [LoggerMessage(EventId = 2921, EventName = "FeedbackSuppressionCompleted", Level = LogLevel.Warning,
        Message = "A duplicate of feedback {Kind} from {Provider} put its address on the blocklist: the first delivery's blocklist write had failed, and so had forgetting the event.")]
    private static partial void LogSuppressionCompleted(ILogger logger, EmailFeedbackKind kind, string provider);

    [LoggerMessage(EventId = 2984, EventName = "FeedbackSuppressedByProvider", Level = LogLevel.Information,
        Message = "Feedback {Kind} from {Provider} is about mail the provider never sent: the address was already on its suppression list. It counts toward no ratio or breaker; tenant: {TenantId}; suppression: {Reason}.")]
    private static partial void LogSuppressedByProvider(ILogger logger, EmailFeedbackKind kind, string provider, string tenantId, string reason);

    [LoggerMessage(EventId = 3020, EventName = "BounceOfGuessedSpellingNotSuppressed", Level = LogLevel.Information,
        Message = "A {BounceType} bounce from {Provider} (event {EventId}) names a spelling that folds to its address only by a guess (a plus-tag at a domain whose provider rule does not name '+', or a source route): it is counted, but the address it folds to is not suppressed and its soft bounces are not counted, since that mailbox may well exist.")]
    private static partial void LogBounceOfGuessedSpelling(ILogger logger, EmailBounceType bounceType, string provider, string eventId);

    [LoggerMessage(EventId = 3024, EventName = "BounceRejectedForMessageNotSuppressed", Level = LogLevel.Information,
        Message = "A {BounceType} bounce from {Provider} (event {EventId}) is a rejection of the message or its sender (content, size, spam filter, policy), not of the address: it counts against its sender (tenant: {TenantId}), but the address is not suppressed and its soft bounces are not counted.")]
    private static partial void LogRejectedForMessage(ILogger logger, EmailBounceType bounceType, string provider, string eventId, string tenantId);

    [LoggerMessage(EventId = 3042, EventName = "RefusalCountedByOlderBuild", Level = LogLevel.Debug,
        Message = "A refusal from {Provider} (event {EventId}) had been counted by an instance of an older build, under the key that build writes; it is a duplicate here too, and what this instance took for it was given back.")]
    private static partial void LogRefusalCountedByOldBuild(ILogger logger, string provider, string eventId);

    [LoggerMessage(EventId = 3043, EventName = "RefusalCountedByOlderBuildNotGivenBack", Level = LogLevel.Warning,
        Message = "A refusal from {Provider} (event {EventId}) had been counted by an instance of an older build, under the key that build writes, and what this instance took for it could not be given back: the store did not answer. Its sender's bounces read one high until the count window moves on.")]
    private static partial void LogRefusalCountedByOldBuildNotGivenBack(ILogger logger, string provider, string eventId);

    [LoggerMessage(EventId = 2100, EventName = "SendCountFailed", Level = LogLevel.Warning,
        Message = "An admitted message could not be counted for the ratio breakers; the ratios read slightly high until the window moves on.")]
    private static partial void LogSendCountFailed(ILogger logger, Exception exception);
}
