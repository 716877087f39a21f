using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

internal sealed partial class WebhookEndpoint
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1750, EventName = "WebhookUnsigned", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 401 because it carries no signature or credentials: {Detail}.")]
        public static partial void Unsigned(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1751, EventName = "WebhookBadSignature", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 401 because its signature or credentials do not match: {Detail}.")]
        public static partial void BadSignature(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 2943, EventName = "WebhookStaleAcknowledged", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was acknowledged with {StaleCount} authentic events left unrecorded because they are older than the provider's age limit (a replay, or a clock off), which a retry cannot change: {Detail}.")]
        public static partial void StaleAcknowledged(ILogger logger, string provider, int staleCount, string detail);

        [LoggerMessage(EventId = 1753, EventName = "WebhookReplayed", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 401 because its signed token was used before: {Detail}.")]
        public static partial void Replayed(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1754, EventName = "WebhookOversized", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 413 before it was read: {Detail}.")]
        public static partial void Oversized(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1755, EventName = "WebhookMalformed", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 400 because it is not in the provider's format: {Detail}.")]
        public static partial void Malformed(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1756, EventName = "WebhookEventIgnored", Level = LogLevel.Debug,
            Message = "A {Provider} feedback event of type '{EventType}' was acknowledged and ignored: EmailGuard does not record this type.")]
        public static partial void EventIgnored(ILogger logger, string provider, string eventType);

        [LoggerMessage(EventId = 1757, EventName = "WebhookTopicNotAllowed", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 401 because its topic is not in EmailGuard:Webhooks:Ses:TopicArns: {Detail}.")]
        public static partial void TopicNotAllowed(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1758, EventName = "WebhookUntrustedCertificateUrl", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was refused with 401 because its signing certificate or subscribe URL is not https on an SNS host: {Detail}.")]
        public static partial void UntrustedCertificateUrl(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1759, EventName = "WebhookCertificateUnavailable", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was answered 503 because its signing certificate could not be fetched: {Detail}.")]
        public static partial void CertificateUnavailable(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1760, EventName = "WebhookConfirmationFailed", Level = LogLevel.Warning,
            Message = "A {Provider} subscription confirmation was answered 503 because the subscription could not be confirmed: {Detail}.")]
        public static partial void ConfirmationFailed(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1769, EventName = "WebhookReplayMemoryUnavailable", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was answered 503 because {Detail}; the provider will retry.")]
        public static partial void ReplayMemoryUnavailable(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1762, EventName = "WebhookStoreUnavailable", Level = LogLevel.Warning,
            Message = "A {Provider} feedback webhook was answered 503 because the store is unavailable; the provider will retry.")]
        public static partial void StoreUnavailable(ILogger logger, string provider);

        [LoggerMessage(EventId = 1763, EventName = "WebhookRecordFailed", Level = LogLevel.Error,
            Message = "Recording {Provider} feedback event '{EventId}' failed; the webhook was answered 503 so the provider retries.")]
        public static partial void RecordFailed(ILogger logger, Exception exception, string provider, string eventId);

        [LoggerMessage(EventId = 1764, EventName = "WebhookEventRefused", Level = LogLevel.Warning,
            Message = "The {Provider} feedback event '{EventId}' was acknowledged but not recorded: {Reason}")]
        public static partial void EventRefused(ILogger logger, string provider, string eventId, string reason);

        [LoggerMessage(EventId = 2920, EventName = "WebhookEventSkipped", Level = LogLevel.Warning,
            Message = "A {Provider} feedback event was acknowledged but not recorded, with the rest of its request: {Detail}.")]
        public static partial void EventSkipped(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 3044, EventName = "WebhookEventTampered", Level = LogLevel.Warning,
            Message = "A {Provider} feedback event is recorded although a custom arg of its sender repeats one of its own fields, charged to the account and the parties its tracked message id names (not its tags), one per mail, and suppressing no address when its recipient is uncertain: {Detail}.")]
        public static partial void EventTampered(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 3045, EventName = "WebhookEventUndated", Level = LogLevel.Warning,
            Message = "A {Provider} feedback event is recorded without the age check, because it carries no time that can be read (the provider writes one in every event: one made by hand by whoever holds the webhook's credentials, or a format this version does not read): {Detail}.")]
        public static partial void EventUndated(ILogger logger, string provider, string detail);

        [LoggerMessage(EventId = 1765, EventName = "WebhookAccepted", Level = LogLevel.Debug,
            Message = "A {Provider} feedback webhook was accepted: {EventCount} events, {RecordedCount} new, {IgnoredCount} ignored.")]
        public static partial void Accepted(ILogger logger, string provider, int eventCount, int recordedCount, int ignoredCount);
    }
}
