using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// A store that says it is busy (<see cref="RateLimitStoreBusyException"/>: its data is moving, as in a Redis Cluster
/// reshard) answered, so for the breaker the call counts as the store answering, never as a failure: a routine reshard
/// under load leaves the circuit closed. The call itself is denied as store-unavailable whatever the policy's failure
/// mode, since admitting it unguarded or against a local share could pass a limit whose counter is only in transit.
/// </summary>
internal sealed partial class ResilientRateLimitStore
{
    /// <summary>Records a busy answer; returns the failure mode that applies to the call.</summary>
    private StoreFailureMode StoreBusy(StoreOperation operation, StoreCallPermit permit, TimeSpan duration, RateLimitStoreBusyException exception)
    {
        _metrics?.RecordStoreCall(operation, StoreCallOutcome.Error, duration, exception);
        LogStoreBusy(_logger, EmailGuardMetrics.OperationName(operation), LogValue.Of(exception));
        if (_breaker.OnSuccess(permit))
        {
            LogCircuitClosed(_logger);
        }

        return StoreFailureMode.FailClosed;
    }

    [LoggerMessage(EventId = 1304, EventName = "StoreBusy", Level = LogLevel.Warning,
        Message = "The rate-limit store was busy moving the data of a {Operation} call (a cluster reshard) and counted nothing; the call is denied as store-unavailable, and the circuit is not affected.")]
    private static partial void LogStoreBusy(ILogger logger, string operation, Exception exception);
}
