using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>Usage of every configured rule, bounce and complaint ratios, the top parties of the last hour, denials over time.</summary>
internal static class OverviewPage
{
    private const int StatusQueries = 5;

    /// <summary>How many tenant pools' ratios the overview reads at most.</summary>
    private const int MaxPoolRatios = 10;

    public static async Task RenderAsync(DashboardRequest request)
    {
        EmailGuardMonitor monitor = request.Services.GetRequiredService<EmailGuardMonitor>();
        ActivityView activity = await request.Services.GetRequiredService<ActivityExchange>().ReadAsync(request.Context.RequestAborted).ConfigureAwait(false);
        Html html = new();
        (long checks, long denials, IReadOnlyDictionary<string, long> reasons) = activity.Totals();
        html.Raw("<h2>Denials per minute, last hour</h2>");
        Chart(html, activity.PerMinute());
        if (reasons.Count > 0)
        {
            html.Raw("<table id=\"denial-reasons\"><tr><th>Denied because</th><th>Messages</th></tr>");
            foreach (KeyValuePair<string, long> reason in reasons.OrderByDescending(r => r.Value))
            {
                html.Raw("<tr>").Cell(reason.Key).Cell(reason.Value).Raw("</tr>");
            }

            html.Raw("</table>");
        }

        bool answered = await UsageAsync(request, html, activity).ConfigureAwait(false);
        answered &= await ProviderBudgetSection.WriteAsync(request, html).ConfigureAwait(false);
        answered &= await FeedbackRatiosSection.WriteAsync(request, html, [.. Queries(activity), .. PoolQueries(request)]).ConfigureAwait(false);

        html.Raw("<h2>Top parties, last hour</h2><p class=\"muted\">Summed over <span id=\"instances\">").Text(activity.InstanceCount)
            .Raw("</span> instance(s): this one's in-memory record (a space-saving sketch per dimension and 5-minute bucket) and the top lists the others publish to the store every 15 s. A count marked ≈ may overestimate by the number shown.</p>");
        if (activity.OthersUnavailable is { } unavailable)
        {
            html.StoreUnavailable("Other instances: ", unavailable);
        }

        html.Raw("<div class=\"grid\">");
        foreach (ActivityDimension dimension in Enum.GetValues<ActivityDimension>())
        {
            Top(request, html, dimension, "usage", activity.Top(dimension, denials: false, request.Options.TopCount));
            Top(request, html, dimension, "denials", activity.Top(dimension, denials: true, request.Options.TopCount));
        }

        html.Raw("</div>");

        // The store card comes first but is written last: a store that failed this very page is down, whatever the
        // monitor has heard so far.
        Html page = new();
        page.Raw("<div class=\"grid\"><div class=\"card\" id=\"store-state\"><h3>Store</h3><p>")
            .Text(monitor.IsStoreDown || !answered ? "Not answering: policies follow their failure mode." : "Answering.")
            .Raw("</p></div><div class=\"card\"><h3>Last hour, all instances</h3><p><span id=\"checks\">").Text(checks).Raw("</span> checks, <span id=\"denials\">")
            .Text(denials).Raw("</span> denied.</p></div></div>").Raw(html.ToString());
        await DashboardLayout.WriteAsync(request, string.Empty, "Overview", page).ConfigureAwait(false);
    }

    private static async Task<bool> UsageAsync(DashboardRequest request, Html html, ActivityView activity)
    {
        // The caps the guard applies: after a reload of EmailGuard:SendGuard, not the options the app started with.
        SendGuardOptions? options = request.Services.GetService<IEmailSendGuardCaps>()?.Current ?? request.Services.GetService<IOptions<SendGuardOptions>>()?.Value;
        IEmailSendGuard? guard = request.Services.GetService<IEmailSendGuard>();
        html.Raw("<h2>Configured rules</h2>");
        if (options is null || guard is null)
        {
            html.Raw("<p class=\"muted\">The send guard is not registered (<code>AddSendGuard()</code>).</p>");
            return true;
        }

        html.Raw("<table id=\"rules\"><tr><th>Dimension</th><th>Rule</th></tr>");
        foreach ((string name, SendGuardDimensionOptions dimension) in Dimensions(options))
        {
            foreach (RateLimitRuleOptions rule in dimension.Rules)
            {
                html.Raw("<tr>").Cell(name).Cell(Describe(rule.ToRule())).Raw("</tr>");
            }
        }

        foreach (KeyValuePair<string, SendGuardDimensionOptions> pool in options.TenantPools)
        {
            // Named as its counters and lookup name it: trimmed by validation, in lower case.
            string name = pool.Key.ToLowerInvariant();
            string suffix = string.Equals(pool.Key, options.DefaultTenantPool, StringComparison.OrdinalIgnoreCase) ? " (default)" : string.Empty;
            foreach (RateLimitRuleOptions rule in pool.Value.Rules)
            {
                html.Raw("<tr><td>Tenant pool ").PoolLink(request, name).Text(suffix).Raw("</td>").Cell(Describe(rule.ToRule())).Raw("</tr>");
            }
        }

        html.Raw("</table><h2>Current usage</h2><p class=\"muted\">Every rule of the global scope, and of the busiest parties of the last hour, read from the store.</p>");
        List<EmailSendRuleUsage> rows = [];
        HashSet<string> seen = new(StringComparer.Ordinal);
        try
        {
            foreach (EmailGuardStatusQuery query in Queries(activity))
            {
                EmailGuardStatus status = await guard.GetStatusAsync(query, request.Context.RequestAborted).ConfigureAwait(false);
                if (!status.IsStoreAvailable)
                {
                    html.StoreUnavailable(null, "The store did not answer: usage is unknown.");
                    return false;
                }

                foreach (EmailSendRuleUsage usage in status.Usage)
                {
                    // Domains are queried through a stand-in recipient, whose own counter is not shown.
                    if (usage.Dimension != EmailGuardDimension.Recipient && seen.Add($"{usage.Dimension}\u0001{usage.Partition}\u0001{usage.Rule}"))
                    {
                        rows.Add(usage);
                    }
                }
            }
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable(null, ex.Message);
            return false;
        }

        html.Raw("<table id=\"usage\"><tr><th>Dimension</th><th>Party</th><th>Rule</th><th>Used</th><th>Limit</th><th>Share</th></tr>");
        foreach (EmailSendRuleUsage usage in rows)
        {
            double share = usage.Limit <= 0 ? 1 : Math.Min(1, (double)usage.Count / usage.Limit);
            html.Raw("<tr>").Cell(TenantPoolText.Dimension(usage.Dimension, usage.Partition)).PartyCell(request, usage.Dimension, usage.Partition, "all mail").Cell(Describe(usage.Rule)).Cell(usage.Count).Cell(usage.Limit)
                .Raw("<td><svg width=\"100\" height=\"8\" role=\"img\"").Attr("aria-label", share.ToString("P0", CultureInfo.InvariantCulture))
                .Raw("><rect width=\"100\" height=\"8\" fill=\"#eef1f5\"></rect><rect height=\"8\"")
                .Attr("width", ((int)Math.Round(share * 100)).ToString(CultureInfo.InvariantCulture))
                .Attr("fill", share >= 0.8 ? "#c0392b" : "#2e86de").Raw("></rect></svg> ").Text(share.ToString("P0", CultureInfo.InvariantCulture)).Raw("</td></tr>");
        }

        html.Raw("</table>");
        return true;
    }

    private static IEnumerable<EmailGuardStatusQuery> Queries(ActivityView activity)
    {
        IReadOnlyList<TopParty> Top(ActivityDimension dimension) => activity.Top(dimension, denials: false, StatusQueries);
        IReadOnlyList<TopParty> tenants = Top(ActivityDimension.Tenant), users = Top(ActivityDimension.User), senders = Top(ActivityDimension.Sender),
            domains = Top(ActivityDimension.RecipientDomain), categories = Top(ActivityDimension.Category), networks = Top(ActivityDimension.ClientNetwork);
        int count = Math.Max(1, new[] { tenants.Count, users.Count, senders.Count, domains.Count, categories.Count, networks.Count }.Max());
        for (int i = 0; i < count; i++)
        {
            yield return new EmailGuardStatusQuery
            {
                TenantId = At(tenants, i),
                UserId = At(users, i),
                Sender = At(senders, i),
                Recipient = At(domains, i) is { } domain ? $"postmaster@{domain}" : null,
                Category = At(categories, i),
                ClientIp = At(networks, i) is { } network && IPAddress.TryParse(network.Split('/')[0], out IPAddress? ip) ? ip : null,
            };
        }
    }

    /// <summary>
    /// The ratios of the configured tenant pools, the first <see cref="MaxPoolRatios"/> of them: a pool's breaker holds
    /// every tenant in it, so its ratio is shown beside the busiest tenants' whether or not one of them is in it.
    /// </summary>
    private static IEnumerable<EmailGuardStatusQuery> PoolQueries(DashboardRequest request)
        => request.Services.GetService<IOptions<SendGuardOptions>>()?.Value.TenantPools.Keys.Take(MaxPoolRatios).Select(pool => new EmailGuardStatusQuery { TenantPool = pool })
            ?? [];

    private static string? At(IReadOnlyList<TopParty> parties, int index) => index < parties.Count ? parties[index].Key : null;

    private static IEnumerable<(string, SendGuardDimensionOptions)> Dimensions(SendGuardOptions options)
    {
        yield return ("Global", options.Global);
        yield return ("Tenant", options.Tenant);
        yield return ("Sender", options.Sender);
        yield return ("Recipient", options.Recipient);
        yield return ("RecipientDomain", options.RecipientDomain);
        yield return ("User", options.User);
        yield return ("ClientIp", options.ClientIp);
        yield return ("Category (each)", options.Category);
        foreach (KeyValuePair<string, SendGuardDimensionOptions> category in options.Categories)
        {
            yield return ($"Category {category.Key}", category.Value);
        }
    }

    internal static string Describe(RateLimitRule rule)
        => string.Create(CultureInfo.InvariantCulture, $"{rule.Limit:N0} per {Window(rule.Window)} ({rule.Algorithm})");

    internal static string Window(TimeSpan window)
        => window == TimeSpan.FromDays(1) ? "day (UTC)"
            : window == TimeSpan.FromHours(1) ? "hour"
            : window == TimeSpan.FromMinutes(1) ? "minute"
            : window.ToString("g", CultureInfo.InvariantCulture);

    private static void Top(DashboardRequest request, Html html, ActivityDimension dimension, string by, IReadOnlyList<TopParty> parties)
    {
        html.Raw("<div class=\"card\"").Attr("id", $"top-{dimension}-{by}".ToLowerInvariant()).Raw("><h3>").Text($"{Label(dimension)} by {by}").Raw("</h3>");
        if (parties.Count == 0)
        {
            html.Raw("<p class=\"muted\">None in the last hour.</p></div>");
            return;
        }

        html.Raw("<table><tr><th>").Text(Label(dimension)).Raw("</th><th>").Text(by == "usage" ? "Permits" : "Denied").Raw("</th></tr>");
        foreach (TopParty party in parties)
        {
            // A tenant and a user link to their lookup (their usage, flags and ratios), by the id the messages carried.
            (dimension switch
            {
                ActivityDimension.Tenant => html.Raw("<tr><td>").PartyLink(request, EmailGuardPartyType.Tenant, party.Key, party.Key).Raw("</td>"),
                ActivityDimension.User => html.Raw("<tr><td>").PartyLink(request, EmailGuardPartyType.User, party.Key, party.Key).Raw("</td>"),
                _ => html.Raw("<tr>").Cell(party.Key),
            }).Raw("<td class=\"num\">").Text(party.Error > 0 ? "≈" : string.Empty).Text(party.Count).Raw("</td></tr>");
        }

        html.Raw("</table></div>");
    }

    private static string Label(ActivityDimension dimension) => dimension switch
    {
        ActivityDimension.Tenant => "Tenants",
        ActivityDimension.User => "Users",
        ActivityDimension.Sender => "Senders",
        ActivityDimension.RecipientDomain => "Recipient domains",
        ActivityDimension.Category => "Categories",
        _ => "Client networks",
    };

    private static void Chart(Html html, IReadOnlyList<(DateTimeOffset Minute, long Denials, long Checks)> minutes)
    {
        const int Width = 600, Height = 120, Top = 10, Bottom = 20;
        long max = Math.Max(1, minutes.Max(m => m.Denials));
        double barWidth = (double)Width / minutes.Count;
        html.Raw("<svg id=\"denials-chart\" class=\"chart\" viewBox=\"0 0 600 140\" width=\"100%\" height=\"140\" role=\"img\" aria-label=\"Denied messages per minute over the last hour\">");
        html.Raw("<line class=\"axis\" x1=\"0\" y1=\"110\" x2=\"600\" y2=\"110\"></line>");
        for (int i = 0; i < minutes.Count; i++)
        {
            (DateTimeOffset minute, long denials, long checks) = minutes[i];
            double height = (Height - Top - Bottom) * denials / (double)max;
            html.Raw("<rect class=\"bar\"")
                .Attr("x", (i * barWidth).ToString("0.##", CultureInfo.InvariantCulture))
                .Attr("y", (Height - Bottom - height).ToString("0.##", CultureInfo.InvariantCulture))
                .Attr("width", Math.Max(1, barWidth - 1).ToString("0.##", CultureInfo.InvariantCulture))
                .Attr("height", height.ToString("0.##", CultureInfo.InvariantCulture))
                .Raw("><title>").Text(string.Create(CultureInfo.InvariantCulture, $"{minute:HH:mm} UTC: {denials} denied of {checks}")).Raw("</title></rect>");
        }

        html.Raw("<text x=\"0\" y=\"125\">").Text(minutes[0].Minute.ToString("HH:mm", CultureInfo.InvariantCulture)).Raw("</text>")
            .Raw("<text x=\"560\" y=\"125\">").Text(minutes[^1].Minute.ToString("HH:mm", CultureInfo.InvariantCulture)).Raw("</text>")
            .Raw("<text x=\"0\" y=\"10\">max ").Text(max).Raw("/min</text></svg>");
    }
}
