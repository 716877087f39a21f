namespace EmailGuard.Dashboard;

/// <summary>What the alert rules (and any other in-package consumer) hear from the monitor.</summary>
internal interface IEmailGuardObserver
{
    void OnLimitExceeded(EmailGuardLimitArguments limitEvent);

    void OnNearLimit(EmailGuardLimitArguments limitEvent);

    /// <summary>
    /// A party was flagged or suspended; <paramref name="replaced"/> is the flag of the same party and reason that was
    /// still active (<see cref="EmailGuardFlagArguments.Replaced"/>), null for a new incident. A ratio breaker's flag is
    /// followed by its trip (<see cref="OnBreakerTripped"/>), which names it.
    /// </summary>
    void OnFlagged(EmailGuardFlag flag, EmailGuardFlag? replaced);

    void OnStoreOutage(string errorType);

    void OnStoreRecovered(TimeSpan downFor);

    /// <summary>
    /// A ratio breaker, an endpoint's escalating ban or its surge breaker tripped; <paramref name="scope"/> says what it
    /// acted on (<see cref="BreakerScopes"/>), <paramref name="incident"/> which incident of a ratio breaker or a surge
    /// breaker the trip belongs to (null for the endpoints' bans), <paramref name="flag"/> the flag a ratio breaker's trip
    /// set (null when it set none).
    /// </summary>
    void OnBreakerTripped(DashboardEvent tripped, string scope, BreakerIncident? incident, BreakerFlag? flag = null);

    /// <summary>A ratio breaker or a surge breaker recovered: the incident <paramref name="key"/> (<see cref="BreakerIncident.Key"/>) ended at <paramref name="at"/>.</summary>
    void OnBreakerRecovered(string key, DateTimeOffset at);
}
