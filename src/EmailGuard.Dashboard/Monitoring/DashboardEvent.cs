namespace EmailGuard.Dashboard;

/// <summary>Something this instance saw that the event log shows: a store outage or recovery, an alert, a flag.</summary>
internal sealed record DashboardEvent(DateTimeOffset At, string Kind, string Title, string? Detail)
{
    /// <summary>
    /// An event whose title and detail quote values others chose (party ids, reasons, policy names), kept apart for an
    /// alert that a sink formats (<see cref="AlertMessage"/>).
    /// </summary>
    public DashboardEvent(DateTimeOffset at, string kind, AlertMessage title, AlertMessage? detail)
        : this(at, kind, title.Raw, detail?.Raw)
    {
        TitleMessage = title;
        DetailMessage = detail;
    }

    /// <summary>Gets <see cref="Title"/> with its values kept apart, or null for an event with none.</summary>
    public AlertMessage? TitleMessage { get; }

    /// <summary>Gets <see cref="Detail"/> with its values kept apart, or null.</summary>
    public AlertMessage? DetailMessage { get; }
}
