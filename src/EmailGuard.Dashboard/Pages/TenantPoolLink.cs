namespace EmailGuard.Dashboard;

/// <summary>
/// A tenant pool's name wherever a page shows it (the overview's usage and rule rows, the flags list), linked to
/// the flags page's lookup of the pool (<c>/flags?type=TenantPool&amp;id=trial</c>: its own usage, flags and ratios), as
/// an alert about the pool links there (<see cref="DashboardLinks.Flags"/>). The name is percent-encoded in the link and
/// HTML-encoded on the page, so a pool name cannot add a query parameter, end the attribute or write markup.
/// </summary>
internal static class TenantPoolLink
{
    /// <summary>Writes <paramref name="pool"/>'s name as a link to its lookup.</summary>
    public static Html PoolLink(this Html html, DashboardRequest request, string pool)
        => html.Raw("<a").Attr("href", request.Url("/flags", ("type", nameof(EmailGuardPartyType.TenantPool)), ("id", pool))).Raw(">").Text(pool).Raw("</a>");

    /// <summary>
    /// Writes the party cell of a counter: a pool's name linked to its lookup (<see cref="TenantPoolText.IsPool"/>), else
    /// the party as shown (<see cref="TenantPoolText.Party"/>), or <paramref name="none"/> for a counter of no party.
    /// </summary>
    public static Html PartyCell(this Html html, DashboardRequest request, EmailGuardDimension dimension, string? partition, string none)
        => TenantPoolText.IsPool(dimension, partition)
            ? html.Raw("<td>").PoolLink(request, TenantPoolText.Party(dimension, partition)!).Raw("</td>")
            : html.Cell(TenantPoolText.Party(dimension, partition) ?? none);
}
