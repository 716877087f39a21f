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
    }
}
