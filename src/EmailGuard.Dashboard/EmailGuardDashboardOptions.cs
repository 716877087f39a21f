namespace EmailGuard.Dashboard;

/// <summary>How <c>MapEmailGuardDashboard</c> mounts the dashboard.</summary>
public sealed class EmailGuardDashboardOptions
{
    /// <summary>
    /// Gets or sets the authorization policy every dashboard page and action requires, as
    /// <c>.RequireAuthorization(policy)</c> would. Required outside Development: without it the dashboard refuses to map.
    /// In Development without a policy, only requests from the local machine (loopback) to a local name (<c>localhost</c>,
    /// a <c>.localhost</c> name, a loopback address) are served, and only when they carry no forwarding header
    /// (<c>Forwarded</c>, <c>X-Forwarded-For</c>, <c>X-Forwarded-Host</c>, <c>X-Real-IP</c>, …, or the <c>X-Original-*</c>
    /// ones <c>ForwardedHeadersMiddleware</c> leaves): a reverse proxy on the same machine connects from loopback for every
    /// visitor it relays. Behind such a proxy, name a policy.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? AuthorizationPolicy { get; set; }

    /// <summary>
    /// Gets or sets an authorization policy the dashboard's actions (adding to and removing from lists, applying and
    /// clearing flags and suspensions) require on top of <see cref="AuthorizationPolicy"/>: with it, whoever meets only
    /// <see cref="AuthorizationPolicy"/> (support staff, say) sees every page but no action form, and an action they post
    /// anyway is refused (403) before it is read. Without it, everyone who may view the dashboard may act.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the actions require what the pages require.</value>
    public string? ActionsAuthorizationPolicy { get; set; }

    /// <summary>Gets or sets the title shown in every page's header, e.g. the application's name.</summary>
    /// <value>The default value is <c>EmailGuard</c>.</value>
    public string Title { get; set; } = "EmailGuard";

    /// <summary>Gets or sets how many list entries and events one page shows, 1 to 1,000.</summary>
    /// <value>The default value is 50.</value>
    public int PageSize { get; set; } = 50;

    /// <summary>Gets or sets how many parties each top list shows, 1 to 50.</summary>
    /// <value>The default value is 10.</value>
    public int TopCount { get; set; } = 10;
}
