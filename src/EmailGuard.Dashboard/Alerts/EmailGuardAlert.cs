namespace EmailGuard.Dashboard;

/// <summary>
/// An alert to send to the configured Slack and webhook endpoints. Alerts with the same <see cref="Condition"/> are
/// deduplicated: at most one goes out per <see cref="EmailGuardAlertOptions.Period"/>, and the next one that goes out
/// says how many were suppressed.
/// </summary>
public sealed class EmailGuardAlert
{
    /// <summary>Gets the kind, one of <see cref="EmailGuardAlertKinds"/> or the application's own.</summary>
    public required string Kind { get; init; }

    /// <summary>
    /// Gets the condition the alert reports, the deduplication key, e.g. <c>limit_exceeded_spike:Tenant</c>. Keep its
    /// cardinality low: one per rule or party that needs attention, never one per message.
    /// </summary>
    public required string Condition { get; init; }

    /// <summary>Gets the one-line summary.</summary>
    public required string Title { get; init; }

    /// <summary>Gets what happened and what to do, in a few sentences.</summary>
    public string? Text { get; init; }

    /// <summary>Gets how urgent it is.</summary>
    /// <value>The default value is <see cref="EmailGuardAlertSeverity.Info"/>.</value>
    public EmailGuardAlertSeverity Severity { get; init; }

    /// <summary>Gets when it happened; the publisher's clock fills it when left unset.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Gets structured details for the webhook's receiver, e.g. the dimension, party and counts.</summary>
    public IReadOnlyDictionary<string, string>? Details { get; init; }

    /// <summary>
    /// Gets the scope within the alert's kind and severity whose budget of new conditions per period
    /// (<see cref="EmailGuardAlertOptions.MaxConditionsPerKind"/>) the alert spends, for a kind whose conditions name
    /// parties of different sorts (a breaker trip: a client network, a tenant, a user); null for the kind's own budget.
    /// </summary>
    internal string? BudgetScope { get; init; }

    /// <summary>
    /// Gets whether the alert reports a new incident of its condition, after the last one ended (a flag cleared or
    /// expired before the party was flagged again; a store outage or a ratio breaker's trip at least
    /// <see cref="AlertIncidents.StableRecovery"/> after the last one ended): it goes out even within the period of the condition's last alert,
    /// and spends the kind's budget of new conditions as a new condition does.
    /// </summary>
    internal bool NewIncident { get; init; }

    /// <summary>
    /// Gets whether every instance raises this alert for the same incident (a limit spike, which each instance counts on
    /// its own), so that only the first instance to claim its condition in the store sends it within the period
    /// (<see cref="AlertClaims"/>).
    /// </summary>
    internal bool OncePerFleet { get; init; }

    /// <summary>
    /// Gets where on the dashboard the alert's party is (<see cref="DashboardLinks"/>), below
    /// <see cref="EmailGuardAlertOptions.DashboardUrl"/>; null for the overview.
    /// </summary>
    internal string? DashboardPath { get; init; }

    /// <summary>Gets <see cref="Title"/> with the values others chose kept apart, for a sink that formats; null for an application's alert.</summary>
    internal AlertMessage? TitleMessage { get; private init; }

    /// <summary>Gets <see cref="Text"/> with the values others chose kept apart, for a sink that formats; null for an application's alert.</summary>
    internal AlertMessage? TextMessage { get; private init; }

    /// <summary>
    /// One of EmailGuard's own alerts, whose title and text quote values others chose: <see cref="Title"/> and
    /// <see cref="Text"/> are their plain forms, and a sink that formats writes them from <paramref name="title"/> and
    /// <paramref name="text"/> with those values kept apart.
    /// </summary>
    internal static EmailGuardAlert Quoting(
        string kind,
        string condition,
        EmailGuardAlertSeverity severity,
        AlertMessage title,
        AlertMessage text,
        IReadOnlyDictionary<string, string>? details,
        DateTimeOffset? timestamp = null,
        string? budgetScope = null,
        bool newIncident = false,
        string? dashboardPath = null,
        bool oncePerFleet = false)
        => new()
        {
            Kind = kind,
            Condition = condition,
            Severity = severity,
            Title = title.Plain,
            TitleMessage = title,
            Text = text.Plain,
            TextMessage = text,
            Details = details,
            Timestamp = timestamp,
            BudgetScope = budgetScope,
            NewIncident = newIncident,
            DashboardPath = dashboardPath,
            OncePerFleet = oncePerFleet,
        };

    /// <summary>The title as a sink that formats writes it: EmailGuard's own with its values kept apart, an application's as it wrote it.</summary>
    internal AlertMessage FormattedTitle => TitleMessage ?? AlertMessage.Verbatim(Title);

    /// <summary>The text as a sink that formats writes it; see <see cref="FormattedTitle"/>.</summary>
    internal AlertMessage FormattedText => TextMessage ?? AlertMessage.Verbatim(Text);
}
