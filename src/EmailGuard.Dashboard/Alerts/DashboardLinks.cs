namespace EmailGuard.Dashboard;

/// <summary>
/// Where on the dashboard an alert's party is: a path below <see cref="EmailGuardAlertOptions.DashboardUrl"/>, with
/// values others chose (party ids) percent-encoded, so that an id cannot add a query parameter, leave the path, or end a
/// Slack link.
/// </summary>
internal static class DashboardLinks
{
    /// <summary>The overview.</summary>
    public const string Overview = "";

    /// <summary>The event log.</summary>
    public const string Events = "/events";

    /// <summary>
    /// The flags page, with the party looked up where the page can look it up (users, tenants, and tenant pools, whose
    /// lookup shows the pool's usage and ratios too: the link the pages write for a pool, <see cref="PartyLinks"/>).
    /// </summary>
    public static string Flags(EmailGuardPartyType partyType, string partyId)
        => partyType is EmailGuardPartyType.User or EmailGuardPartyType.Tenant or EmailGuardPartyType.TenantPool
            ? $"/flags?type={partyType}&id={Uri.EscapeDataString(partyId)}"
            : "/flags";

    /// <summary>The absolute link to <paramref name="path"/> below <paramref name="dashboardUrl"/>, a validated absolute http(s) URL.</summary>
    public static string Absolute(string dashboardUrl, string path)
        => new Uri(dashboardUrl, UriKind.Absolute).AbsoluteUri.TrimEnd('/') + path;
}
