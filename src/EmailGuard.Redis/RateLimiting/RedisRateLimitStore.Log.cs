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
    }
}
