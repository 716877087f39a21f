namespace EmailGuard.Dashboard;

/// <summary>How urgent an alert is.</summary>
public enum EmailGuardAlertSeverity
{
    /// <summary>For information, e.g. the store answers again.</summary>
    Info = 0,

    /// <summary>Look soon, e.g. a global cap is near or a limit is hit often.</summary>
    Warning = 1,

    /// <summary>Act now, e.g. the store is down or a tenant is suspended.</summary>
    Critical = 2,
}
