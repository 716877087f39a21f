using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// Flags, suspensions and clears from the store (every instance's), with the store outages and recoveries, breaker trips
/// (ratio breakers, endpoint bans, surge breakers) and feedback suppressions of this instance and the latest of the
/// others (<see cref="ActivityExchange"/>), newest first.
/// </summary>
internal static class EventsPage
{
    public static async Task RenderAsync(DashboardRequest request)
    {
        Html html = new();
        int take = Math.Clamp(request.Options.PageSize, 1, 1_000);
        List<(DateTimeOffset At, string Source, string Kind, string Title, string? Detail)> rows = [];
        ActivityView activity = await request.Services.GetRequiredService<ActivityExchange>().ReadAsync(request.Context.RequestAborted).ConfigureAwait(false);
        foreach ((DashboardEvent item, string source) in activity.Events())
        {
            rows.Add((item.At, source, item.Kind, item.Title, item.Detail));
        }

        if (activity.OthersUnavailable is { } unavailable)
        {
            html.StoreUnavailable("Other instances' events: ", unavailable);
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

        html.Raw("<p class=\"muted\">Store outages and recoveries, breaker trips (ratio breakers, endpoint bans, surge breakers) and feedback suppressions are kept in memory by the instance that saw them (the last 500 here; the other instances publish their latest 20 to the store every 15 s); flag events of every instance come from the store.</p>");
        html.Raw("<table id=\"events\"><tr><th>When</th><th>Source</th><th>Kind</th><th>What</th><th>Detail</th></tr>");
        foreach ((DateTimeOffset at, string source, string kind, string title, string? detail) in rows.OrderByDescending(r => r.At).Take(take))
        {
            html.Raw("<tr class=\"event\"><td>").Time(at).Raw("</td>").Cell(source).Cell(kind).Cell(title).Cell(detail).Raw("</tr>");
        }

        html.Raw("</table>");
        await DashboardLayout.WriteAsync(request, "/events", "Event log", html).ConfigureAwait(false);
    }
}
