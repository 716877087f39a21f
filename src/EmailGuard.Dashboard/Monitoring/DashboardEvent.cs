namespace EmailGuard.Dashboard;

/// <summary>Something this instance saw that the event log shows: a store outage or recovery, an alert, a flag.</summary>
internal sealed record DashboardEvent(DateTimeOffset At, string Kind, string Title, string? Detail);
