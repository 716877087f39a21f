using Microsoft.Extensions.Logging;

namespace EmailGuard.Redis;

internal sealed partial class RedisConnection
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 300, EventName = "RedisConnecting", Level = LogLevel.Debug,
            Message = "Connecting to Redis for EmailGuard.")]
        public static partial void Connecting(ILogger logger);

        [LoggerMessage(EventId = 301, EventName = "RedisConnected", Level = LogLevel.Information,
            Message = "EmailGuard's Redis multiplexer is ready and {State}; it reconnects in the background when Redis is down.")]
        public static partial void Connected(ILogger logger, string state);

        [LoggerMessage(EventId = 2955, EventName = "RedisReplicaRefusalResent", Level = LogLevel.Debug,
            Message = "An EmailGuard {What} refused by a read-only replica ({Refusal}) is sent again: the connection has looked for the primary since it was sent.")]
        public static partial void ReplicaRefusalResent(ILogger logger, string what, string refusal);

        [LoggerMessage(EventId = 2956, EventName = "RedisReplicaRefusalNotResent", Level = LogLevel.Warning,
            Message = "An EmailGuard {What} refused by a read-only replica is not sent again ({Resends} resends, {Waited} waited): the connection did not find the primary within the call's budget. Nothing was written; the call fails and its failure mode answers it.")]
        public static partial void ReplicaRefusalNotResent(ILogger logger, string what, int resends, TimeSpan waited);
    }
}
