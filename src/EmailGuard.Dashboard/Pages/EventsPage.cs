using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// Flags, suspensions and clears from the store (every instance's), with this instance's store outages and recoveries,
/// breaker trips (ratio breakers, endpoint bans, surge breakers) and feedback suppressions, newest first.
/// </summary>
internal static class EventsPage
{
    public static async Task RenderAsync(DashboardRequest request)
    {
        Html html = new();
        int take = Math.Clamp(request.Options.PageSize, 1, 1_000);
        List<(DateTimeOffset At, string Source, string Kind, string Title, string? Detail)> rows = [];
        foreach (DashboardEvent item in request.Services.GetRequiredService<DashboardEventLog>().Snapshot().Take(take))
        {
            rows.Add((item.At, "this instance", item.Kind, item.Title, item.Detail));
        }

        if (request.Services.GetService<IEmailGuardFlags>() is { } flags)
        {
            try
            {
                foreach (EmailGuardFlagEvent item in await flags.GetEventsAsync(new EmailGuardFlagEventQuery { Take = take }, request.Context.RequestAborted).ConfigureAwait(false))
                {
                    string title = $"{item.PartyType} {item.PartyId} {item.Kind.ToString().ToLowerInvariant()}{(item.Reason is null ? string.Empty : $": {item.Reason}")}";
                    string? detail = item.ExpiresAt is { } until ? $"until {until:u}" : null;
                    rows.Add((item.CreatedAt, "store", item.Kind.ToString().ToLowerInvariant(), title, item.CreatedBy is null ? detail : $"{detail} by {item.CreatedBy}".Trim()));
                }
            }
            catch (EmailGuardStoreUnavailableException ex)
            {
                html.StoreUnavailable("Flag events are unavailable: ", ex.Message);
            }
        }

        html.Raw("<p class=\"muted\">Store outages and recoveries, breaker trips (ratio breakers, endpoint bans, surge breakers), feedback suppressions and flags raised here are this instance's, kept in memory (the last 500); flag events of every instance come from the store.</p>");
        html.Raw("<table id=\"events\"><tr><th>When</th><th>Source</th><th>Kind</th><th>What</th><th>Detail</th></tr>");
        foreach ((DateTimeOffset at, string source, string kind, string title, string? detail) in rows.OrderByDescending(r => r.At).Take(take))
        {
            html.Raw("<tr class=\"event\"><td>").Time(at).Raw("</td>").Cell(source).Cell(kind).Cell(title).Cell(detail).Raw("</tr>");
        }

        html.Raw("</table>");
        await DashboardLayout.WriteAsync(request, "/events", "Event log", html).ConfigureAwait(false);
    }
}
