using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <remarks>Event ids 2940–2942 belong to the in-memory key-value store.</remarks>
internal sealed partial class InMemoryKeyValueStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 2940, EventName = "KeyValuePoolFull", Level = LogLevel.Warning,
            Message = "The in-memory key-value store's '{Pool}' pool holds its maximum of {Capacity} live values and now forgets its oldest to store new ones. Raise EmailGuard:Feedback:MaxInMemoryMappings, or use a shared store such as Redis. Logged once.")]
        public static partial void PoolFullEvicting(ILogger logger, string pool, int capacity);

        [LoggerMessage(EventId = 2941, EventName = "KeyValuePoolFullRefusing", Level = LogLevel.Warning,
            Message = "The in-memory key-value store's '{Pool}' pool holds its maximum of {Capacity} live values; new ones are refused until some expire, since forgetting one would let a replay through (a Mailgun webhook answers 503 and Mailgun retries). Raise EmailGuard:Feedback:MaxInMemoryMappings, or use a shared store such as Redis. Logged once.")]
        public static partial void PoolFullRefused(ILogger logger, string pool, int capacity);
    }
}
