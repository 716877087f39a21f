using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

internal sealed partial class EndpointDefense
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1800, EventName = "BanStarted", Level = LogLevel.Warning,
            Message = "EmailGuard banned client network {ClientNetwork} from policy '{Policy}' for {Duration} (ban {Repeat} within the repeat memory).")]
        public static partial void BanStarted(ILogger logger, string policy, string clientNetwork, TimeSpan duration, int repeat);

        [LoggerMessage(EventId = 1801, EventName = "BanRejected", Level = LogLevel.Debug,
            Message = "Request rejected because client network {ClientNetwork} is banned from EmailGuard policy '{Policy}'.")]
        public static partial void BanRejected(ILogger logger, string policy, string clientNetwork);

        [LoggerMessage(EventId = 1802, EventName = "SurgeBreakerTripped", Level = LogLevel.Warning,
            Message = "The surge breaker of EmailGuard policy '{Policy}' tripped: {Total} requests this minute against a threshold of {Threshold}; it stays tripped for {TripFor}.")]
        public static partial void SurgeTripped(ILogger logger, string policy, long total, long threshold, TimeSpan tripFor);

        [LoggerMessage(EventId = 1803, EventName = "SurgeBreakerRecovered", Level = LogLevel.Information,
            Message = "The surge breaker of EmailGuard policy '{Policy}' recovered: {Total} requests this minute against a threshold of {Threshold}.")]
        public static partial void SurgeRecovered(ILogger logger, string policy, long total, long threshold);

        [LoggerMessage(EventId = 1804, EventName = "ChallengeRequired", Level = LogLevel.Debug,
            Message = "EmailGuard policy '{Policy}' asked for a challenge {Cause}.")]
        public static partial void ChallengeRequired(ILogger logger, string policy, string cause);

        [LoggerMessage(EventId = 1807, EventName = "DefenseCallbackFailed", Level = LogLevel.Error,
            Message = "The app's EmailGuard {Callback} callback threw; the request goes on.")]
        public static partial void CallbackFailed(ILogger logger, string callback, Exception exception);
    }
}
