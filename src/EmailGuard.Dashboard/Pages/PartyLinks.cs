namespace EmailGuard.Dashboard;

/// <summary>
/// A tenant's, a user's or a tenant pool's name wherever a page shows it (the overview's usage, rule, ratio and top-party
/// rows, the flags list), linked to the flags page's lookup of that party (<c>/flags?type=TenantPool&amp;id=trial</c>,
/// <c>/flags?type=Tenant&amp;id=acme</c>: its own usage, flags and ratios), as an alert about it links there
/// (<see cref="DashboardLinks.Flags"/>). The name is percent-encoded in the link and HTML-encoded on the page, so a
/// party's name cannot add a query parameter, end the attribute or write markup.
/// </summary>
internal static class PartyLinks
{
    /// <summary>Writes <paramref name="pool"/>'s name as a link to its lookup.</summary>
    public static Html PoolLink(this Html html, DashboardRequest request, string pool) => html.PartyLink(request, EmailGuardPartyType.TenantPool, pool, pool);

    /// <summary>Writes <paramref name="shown"/> as a link to the lookup of the party of <paramref name="type"/> and <paramref name="id"/>.</summary>
    public static Html PartyLink(this Html html, DashboardRequest request, EmailGuardPartyType type, string id, string shown)
        => html.Raw("<a").Attr("href", request.Url("/flags", ("type", type.ToString()), ("id", id))).Raw(">").Text(shown).Raw("</a>");

    /// <summary>
    /// Writes the party cell of a counter: a pool's name, a tenant's or a user's partition linked to its lookup, else the
    /// party as shown (<see cref="TenantPoolText.Party"/>), or <paramref name="none"/> for a counter of no party.
    /// </summary>
    public static Html PartyCell(this Html html, DashboardRequest request, EmailGuardDimension dimension, string? partition, string none)
        => TenantPoolText.LookUp(dimension, partition) is ({ } type, { } id)
            ? html.Raw("<td>").PartyLink(request, type, id, TenantPoolText.Party(dimension, partition)!).Raw("</td>")
            : html.Cell(TenantPoolText.Party(dimension, partition) ?? none);

    /// <summary>Writes a flag's party cell: a tenant, a user or a pool linked to its lookup, any other party as it is.</summary>
    public static Html FlagPartyCell(this Html html, DashboardRequest request, EmailGuardFlag flag)
        => flag.PartyType is EmailGuardPartyType.Tenant or EmailGuardPartyType.User or EmailGuardPartyType.TenantPool
            ? html.Raw("<td>").PartyLink(request, flag.PartyType, flag.PartyId, flag.PartyId).Raw("</td>")
            : html.Cell(flag.PartyId);
}
