using Microsoft.Extensions.Logging;

namespace EmailGuard.Redis;

internal sealed partial class RedisRateLimitStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 310, EventName = "RedisScriptReloaded", Level = LogLevel.Debug,
            Message = "A Redis node did not have the EmailGuard '{Script}' script cached (first use, SCRIPT FLUSH, restart or failover); it was sent with EVAL.")]
        public static partial void ScriptReloaded(ILogger logger, string script);

        [LoggerMessage(EventId = 311, EventName = "RedisCrossSlotAcquireDenied", Level = LogLevel.Debug,
            Message = "A Redis Cluster acquire over {Slots} hash slots was denied after {Reserved} slot(s) had been reserved; they were given back.")]
        public static partial void CrossSlotAcquireDenied(ILogger logger, int slots, int reserved);

        [LoggerMessage(EventId = 312, EventName = "RedisCrossSlotAcquireFailed", Level = LogLevel.Debug,
            Message = "A Redis Cluster acquire over {Slots} hash slots failed after {Reserved} slot(s) had been reserved; they are being given back.")]
        public static partial void CrossSlotAcquireFailed(ILogger logger, int slots, int reserved);

        [LoggerMessage(EventId = 313, EventName = "RedisCrossSlotGiveBackFailed", Level = LogLevel.Warning,
            Message = "Permits reserved by a failed Redis Cluster acquire could not be given back; those counters stay stricter until their windows end.")]
        public static partial void CrossSlotGiveBackFailed(ILogger logger, Exception exception);
    }
}
