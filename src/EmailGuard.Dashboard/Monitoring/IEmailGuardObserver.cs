namespace EmailGuard.Dashboard;

/// <summary>What the alert rules (and any other in-package consumer) hear from the monitor.</summary>
internal interface IEmailGuardObserver
{
    void OnLimitExceeded(EmailGuardLimitArguments limitEvent);

    void OnNearLimit(EmailGuardLimitArguments limitEvent);

    void OnFlagged(EmailGuardFlag flag);

    void OnStoreOutage(string errorType);

    void OnStoreRecovered(TimeSpan downFor);

    /// <summary>
    /// A ratio breaker, an endpoint's escalating ban or its surge breaker tripped; <paramref name="scope"/> says what it
    /// acted on (<see cref="BreakerScopes"/>).
    /// </summary>
    void OnBreakerTripped(DashboardEvent tripped, string scope);
}
