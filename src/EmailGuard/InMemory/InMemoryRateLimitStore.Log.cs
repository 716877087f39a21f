using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <remarks>Event ids 1200–1209 belong to the in-memory store.</remarks>
internal sealed partial class InMemoryRateLimitStore
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1200, EventName = "InMemoryStoreFull", Level = LogLevel.Warning,
            Message = "The in-memory store '{Store}' tracks its maximum of {MaxTrackedKeys} keys. New keys are now counted in an approximate overflow count that only over-counts: limits still hold, but new keys may be denied early until counters expire. A flood of distinct IPs, recipients or ids causes this; otherwise raise EmailGuard:InMemoryStore:MaxTrackedKeys.")]
        public static partial void StoreFull(ILogger logger, string store, int maxTrackedKeys);
    }
}
