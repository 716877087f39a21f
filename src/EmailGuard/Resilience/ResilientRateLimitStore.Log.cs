using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <remarks>Event ids 600–609 belong to store resilience.</remarks>
internal sealed partial class ResilientRateLimitStore
{
    [LoggerMessage(EventId = 600, EventName = "StoreFailure", Level = LogLevel.Warning,
        Message = "The rate-limit store failed during {Operation}; the failure mode applies.")]
    private static partial void LogStoreFailure(ILogger logger, string operation, Exception exception);

    [LoggerMessage(EventId = 601, EventName = "StoreTimeout", Level = LogLevel.Warning,
        Message = "The rate-limit store did not answer {Operation} within {Timeout}; the failure mode applies.")]
    private static partial void LogStoreTimeout(ILogger logger, string operation, TimeSpan timeout);

    [LoggerMessage(EventId = 602, EventName = "CircuitOpened", Level = LogLevel.Error,
        Message = "The rate-limit store circuit opened ({ConsecutiveFailures} consecutive failures); store calls are skipped for {BreakDuration} and get the failure mode.")]
    private static partial void LogCircuitOpened(ILogger logger, int consecutiveFailures, TimeSpan breakDuration);

    [LoggerMessage(EventId = 603, EventName = "CircuitHalfOpened", Level = LogLevel.Information,
        Message = "The rate-limit store circuit is half-open; one call probes the store.")]
    private static partial void LogCircuitHalfOpened(ILogger logger);

    [LoggerMessage(EventId = 604, EventName = "CircuitClosed", Level = LogLevel.Information,
        Message = "The rate-limit store circuit closed; the store answered the probe.")]
    private static partial void LogCircuitClosed(ILogger logger);

    [LoggerMessage(EventId = 605, EventName = "CircuitReopened", Level = LogLevel.Warning,
        Message = "The probe of the rate-limit store failed; the circuit opened again for {BreakDuration}.")]
    private static partial void LogCircuitReopened(ILogger logger, TimeSpan breakDuration);

    [LoggerMessage(EventId = 2982, EventName = "StoreCallBudgetSpent", Level = LogLevel.Warning,
        Message = "The rate-limit store was not asked for {Operation}: earlier waits of the same check spent its store time budget ({Timeout}); the failure mode {FailureMode} applies.")]
    private static partial void LogBudgetSpent(ILogger logger, string operation, TimeSpan timeout, StoreFailureMode failureMode);
}
