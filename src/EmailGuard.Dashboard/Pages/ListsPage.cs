using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// The blocklist and the allowlist, and the IP deny and allow lists (their client-network entries, which the endpoint
/// middleware applies): search, paging, add, remove.
/// </summary>
internal static class ListsPage
{
    /// <summary>
    /// The most reasons the count by reason shows. Reasons are the app's text: one that carries a per-entry detail (an
    /// address, a bounce's diagnostic) makes every entry a reason of its own, and the table the whole list, on every view.
    /// </summary>
    internal const int MaxReasons = 25;

    public static async Task RenderAsync(DashboardRequest request)
    {
        IEmailGuardLists? lists = request.Services.GetService<IEmailGuardLists>();
        Html html = new();
        if (lists is null)
        {
            html.Raw("<p class=\"muted\">Lists are not registered (<code>AddSendGuard()</code>).</p>");
            await DashboardLayout.WriteAsync(request, "/lists", "Lists", html).ConfigureAwait(false);
            return;
        }

        EmailGuardListKind kind = ParseKind(request.Query("kind"));
        EmailGuardPartyType? type = FormEnum.TryParse(request.Query("type"), out EmailGuardPartyType parsed) ? parsed : null;
        string search = request.Query("q");
        int page = int.TryParse(request.Query("page"), NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p is > 0 and < 1_000_000 ? p : 1;
        int size = Math.Clamp(request.Options.PageSize, 1, EmailGuardListQuery.MaxTake);

        bool ipList = type == EmailGuardPartyType.ClientNetwork;
        html.Raw("<nav class=\"tabs\">");
        foreach (EmailGuardListKind each in Enum.GetValues<EmailGuardListKind>())
        {
            html.Raw("<a").Attr("href", request.Url("/lists", ("kind", each.ToString()))).Attr("class", each == kind && !ipList ? "active" : null).Raw(">").Text(each.ToString()).Raw("</a> ");
        }

        foreach (EmailGuardListKind each in Enum.GetValues<EmailGuardListKind>())
        {
            html.Raw("<a").Attr("id", each == EmailGuardListKind.Blocklist ? "ip-deny-tab" : "ip-allow-tab")
                .Attr("href", request.Url("/lists", ("kind", each.ToString()), ("type", nameof(EmailGuardPartyType.ClientNetwork))))
                .Attr("class", each == kind && ipList ? "active" : null).Raw(">").Text(IpListName(each)).Raw("</a> ");
        }

        html.Raw("</nav>");
        if (ipList)
        {
            html.Raw("<p class=\"muted\" id=\"ip-list-help\">").Text(kind == EmailGuardListKind.Blocklist
                    ? "Client networks the endpoints refuse (403) before any limit is counted. A value is an IP address or a CIDR range; an address is stored as its network (IPv6 grouped by prefix). Every instance applies a change within seconds."
                    : "Client networks the endpoints let through without counting them. A value is an IP address or a CIDR range. Every instance applies a change within seconds.")
                .Raw("</p>");
        }

        html.Raw("<form method=\"get\" id=\"list-search\"").Attr("action", request.Url("/lists")).Raw(">").Hidden("kind", kind.ToString())
            .Raw("<label>Search <input name=\"q\" type=\"search\"").Attr("value", search).Raw("></label> <label>Party <select name=\"type\"><option value=\"\">any</option>");
        foreach (EmailGuardPartyType each in Enum.GetValues<EmailGuardPartyType>())
        {
            html.Raw("<option").Attr("value", each.ToString()).Raw(each == type ? " selected" : string.Empty).Raw(">").Text(each.ToString()).Raw("</option>");
        }

        html.Raw("</select></label> <button type=\"submit\">Search</button></form>");
        try
        {
            EmailGuardListPage entries = await lists.ListAsync(
                new EmailGuardListQuery { Kind = kind, PartyType = type, Search = search.Length == 0 ? null : search, Skip = (page - 1) * size, Take = size },
                request.Context.RequestAborted).ConfigureAwait(false);
            html.Raw("<p id=\"list-count\">").Text(entries.TotalCount).Raw(" entries.</p><table id=\"list-entries\"><tr><th>Party</th><th>Value</th><th>Reason</th><th>Added by</th><th>Added</th><th>Expires</th><th></th></tr>");
            foreach (EmailGuardListEntry entry in entries.Items)
            {
                html.Raw("<tr class=\"entry\">").Cell(entry.PartyType.ToString()).Cell(Shown(entry)).Cell(entry.Reason).Cell(entry.CreatedBy)
                    .Raw("<td>").Time(entry.CreatedAt).Raw("</td><td>").Time(entry.ExpiresAt).Raw("</td><td>");
                if (request.CanAct)
                {
                    request.Form(html, "/lists/remove", "inline").Hidden("kind", kind.ToString()).Hidden("type", entry.PartyType.ToString()).Carry("value", entry.Value)
                        .Raw("<button type=\"submit\" class=\"danger\">Remove</button></form>");
                }

                html.Raw("</td></tr>");
            }

            html.Raw("</table><p class=\"pager\">");
            if (page > 1)
            {
                html.Raw("<a id=\"prev-page\"").Attr("href", request.Url("/lists", ("kind", kind.ToString()), ("q", search), ("type", type?.ToString()), ("page", (page - 1).ToString(CultureInfo.InvariantCulture)))).Raw(">Previous</a>");
            }

            if ((long)page * size < entries.TotalCount)
            {
                html.Raw("<a id=\"next-page\"").Attr("href", request.Url("/lists", ("kind", kind.ToString()), ("q", search), ("type", type?.ToString()), ("page", (page + 1).ToString(CultureInfo.InvariantCulture)))).Raw(">Next</a>");
            }

            html.Raw("</p>");
            IReadOnlyDictionary<string, int> reasons = await lists.CountByReasonAsync(kind, cancellationToken: request.Context.RequestAborted).ConfigureAwait(false);
            if (reasons.Count > 0)
            {
                html.Raw("<h3>By reason</h3><table id=\"list-reasons\"><tr><th>Reason</th><th>Entries</th></tr>");
                foreach (KeyValuePair<string, int> reason in reasons.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Take(MaxReasons))
                {
                    html.Raw("<tr>").Cell(reason.Key).Cell(reason.Value).Raw("</tr>");
                }

                html.Raw("</table>");
                if (reasons.Count > MaxReasons)
                {
                    html.Raw("<p class=\"muted\" id=\"more-reasons\">").Text(reasons.Count - MaxReasons).Raw(" more reasons are not listed; search for one to see its entries.</p>");
                }
            }
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable(null, ex.Message);
        }

        if (!request.CanAct)
        {
            html.Raw("<p class=\"muted\" id=\"read-only\">Read-only: adding and removing entries need the dashboard's actions policy.</p>");
            await DashboardLayout.WriteAsync(request, "/lists", "Lists", html).ConfigureAwait(false);
            return;
        }

        html.Raw("<h2>Add to the ").Text(ipList ? IpListName(kind) : kind.ToString().ToLowerInvariant()).Raw("</h2>");
        request.Form(html, "/lists/add").Raw("<div class=\"card\" id=\"list-add\">").Hidden("kind", kind.ToString()).Raw("<label>Party <select name=\"type\">");
        foreach (EmailGuardPartyType each in Enum.GetValues<EmailGuardPartyType>())
        {
            html.Raw("<option").Attr("value", each.ToString()).Raw(each == type ? " selected" : string.Empty).Raw(">").Text(each.ToString()).Raw("</option>");
        }

        html.Raw("</select></label> <label>Value <input name=\"value\" required maxlength=\"320\"></label> <label>Reason <input name=\"reason\" required maxlength=\"200\" value=\"manual\"></label>")
            .Raw(" <label>Hours (empty: no expiry) <input name=\"hours\" type=\"number\" min=\"1\" max=\"87600\"></label> <button type=\"submit\">Add</button></div></form>");
        await DashboardLayout.WriteAsync(request, "/lists", "Lists", html).ConfigureAwait(false);
    }

    /// <summary>Where an action on a list entry goes back to: the IP list of a client network, else the whole list.</summary>
    internal static string Back(DashboardRequest request, EmailGuardListKind kind, EmailGuardPartyType type)
        => request.Url("/lists", ("kind", kind.ToString()), ("type", type == EmailGuardPartyType.ClientNetwork ? type.ToString() : null));

    /// <summary>
    /// An entry's value as the page shows it: a client network in the one spelling the dashboard uses
    /// (<see cref="ClientNetworkText"/>), also when it was stored in another (an older version's, a direct write). Its
    /// Remove form carries the value as stored.
    /// </summary>
    private static string Shown(EmailGuardListEntry entry)
        => entry.PartyType == EmailGuardPartyType.ClientNetwork ? IpAddressGrouping.NormalizeNetwork(entry.Value) ?? entry.Value : entry.Value;

    private static string IpListName(EmailGuardListKind kind) => kind == EmailGuardListKind.Blocklist ? "IP deny list" : "IP allow list";

    internal static EmailGuardListKind ParseKind(string value)
        => FormEnum.TryParse(value, out EmailGuardListKind kind) ? kind : EmailGuardListKind.Blocklist;
}
