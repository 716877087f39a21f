using System.Diagnostics;

namespace EmailGuard;

/// <summary>
/// What every store call reports: its metrics (outcome and duration), its activity, the log line of a failure or a
/// timeout, and the circuit transitions it causes.
/// </summary>
internal sealed partial class ResilientRateLimitStore
{
    /// <param name="operation">The operation.</param>
    /// <param name="permit">The breaker's permit the call went out with.</param>
    /// <param name="started">When the call started (a timestamp).</param>
    /// <param name="activity">The call's activity.</param>
    /// <param name="exception">How it failed; null when it succeeded.</param>
    /// <param name="heardFromStore">
    /// False for a decision the store answered from what it holds in this process (<see cref="RateLimitDecision.AnsweredFromCache"/>:
    /// the Redis store's over-limit cache denies a flood that way): no word from its server, so the breaker counts it
    /// neither way, and a probe answered so is handed to the next call. Counted as a success, a flood's local denials
    /// kept the circuit closed while the server hung, and every other caller waited the timeout.
    /// </param>
    private void Completed(StoreOperation operation, StoreCallPermit permit, long started, Activity? activity, Exception? exception, bool heardFromStore = true)
    {
        TimeSpan duration = _timeProvider.GetElapsedTime(started);
        if (exception is null)
        {
            _metrics?.RecordStoreCall(operation, StoreCallOutcome.Success, duration, null);
            if (!heardFromStore)
            {
                _breaker.Abandon(permit);
            }
            else if (_breaker.OnSuccess(permit))
            {
                LogCircuitClosed(_logger);
            }

            return;
        }

        StoreCallOutcome outcome = exception is TimeoutException ? StoreCallOutcome.Timeout : StoreCallOutcome.Error;
        _metrics?.RecordStoreCall(operation, outcome, duration, exception);
        activity?.SetStatus(ActivityStatusCode.Error, outcome == StoreCallOutcome.Timeout ? "timeout" : exception.GetType().FullName);
        if (outcome == StoreCallOutcome.Timeout)
        {
            LogStoreTimeout(_logger, EmailGuardMetrics.OperationName(operation), _timeout);
        }
        else
        {
            LogStoreFailure(_logger, EmailGuardMetrics.OperationName(operation), LogValue.Of(exception));
        }

        if (_breaker.OnFailure(permit))
        {
            if (permit == StoreCallPermit.Probe)
            {
                LogCircuitReopened(_logger, _breaker.BreakDuration);
            }
            else
            {
                LogCircuitOpened(_logger, _breaker.ConsecutiveFailures, _breaker.BreakDuration);
            }
        }
    }

    private static Activity? StartActivity(StoreOperation operation, int requestCount)
    {
        Activity? activity = EmailGuardActivitySource.Instance.StartActivity(
            operation switch
            {
                StoreOperation.Acquire => "emailguard.store.acquire",
                StoreOperation.Peek => "emailguard.store.peek",
                StoreOperation.Reserve => "emailguard.store.reserve",
                _ => "emailguard.store.refund",
            },
            ActivityKind.Client);
        activity?.SetTag("emailguard.store.requests", requestCount);
        return activity;
    }
}
