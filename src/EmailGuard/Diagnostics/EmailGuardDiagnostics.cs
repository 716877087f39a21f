namespace EmailGuard;

/// <summary>
/// Names to subscribe to EmailGuard's telemetry: add them to OpenTelemetry with <c>AddMeter</c> and <c>AddSource</c>.
/// </summary>
public static class EmailGuardDiagnostics
{
    /// <summary>
    /// The name of the meter: decisions (<c>emailguard.decisions</c>), store latency (<c>emailguard.store.duration</c>),
    /// store errors (<c>emailguard.store.errors</c>), failure-mode outcomes (<c>emailguard.store.fallbacks</c>) and the
    /// circuit state (<c>emailguard.store.breaker.state</c>: 0 closed, 1 half-open, 2 open).
    /// </summary>
    public const string MeterName = "EmailGuard";

    /// <summary>The name of the activity source that traces store calls and endpoint decisions.</summary>
    public const string ActivitySourceName = "EmailGuard";
}
