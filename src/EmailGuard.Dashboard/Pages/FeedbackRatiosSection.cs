using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// The overview's bounce and complaint ratios: global, of the busiest parties of the last hour and of the tenant pools, read from the
/// store through <see cref="IEmailFeedbackCounts"/>, next to the ratio breakers' lines.
/// </summary>
internal static class FeedbackRatiosSection
{
    public static async Task<bool> WriteAsync(DashboardRequest request, Html html, IEnumerable<EmailGuardStatusQuery> queries)
    {
        html.Raw("<h2>Bounce and complaint ratios</h2>");
        if (request.Services.GetService<IEmailFeedbackCounts>() is not { } feedback)
        {
            html.Raw("<p class=\"muted\" id=\"feedback-off\">Provider feedback is not registered, so no ratios are counted (<code>AddFeedbackWebhooks()</code>, docs/feedback.md).</p>");
            return true;
        }

        EmailRatioBreakerOptions? breakers = request.Services.GetService<IOptions<EmailRatioBreakerOptions>>()?.Value;
        List<EmailFeedbackCounts> rows = [];
        HashSet<(EmailGuardDimension, string?)> seen = [];
        try
        {
            foreach (EmailGuardStatusQuery query in queries)
            {
                foreach (EmailFeedbackCounts counts in await feedback.GetStatusAsync(query, request.Context.RequestAborted).ConfigureAwait(false))
                {
                    if (seen.Add((counts.Dimension, counts.Partition)) && (counts.Dimension == EmailGuardDimension.Global || counts.Sends > 0 || counts.Bounces > 0 || counts.Complaints > 0))
                    {
                        rows.Add(counts);
                    }
                }
            }
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            html.StoreUnavailable("Ratios are unavailable: ", ex.Message);
            return false;
        }

        if (breakers is not null)
        {
            html.Raw("<p class=\"muted\">Over the feedback window").Text(rows.Count > 0 ? $" (the last {Hours(rows[0].Window)})" : string.Empty)
                .Raw(". The ratio breakers act from ").Text(breakers.MinimumSends).Raw(" sends: limits reduced at ").Text(Percent(breakers.BounceRateToReduce))
                .Raw(" bounces or ").Text(Percent(breakers.ComplaintRateToReduce)).Raw(" complaints, suspended at ").Text(Percent(breakers.BounceRateToSuspend))
                .Raw(" or ").Text(Percent(breakers.ComplaintRateToSuspend)).Raw(".</p>");
        }

        html.Raw("<table id=\"feedback-ratios\"><tr><th>Dimension</th><th>Party</th><th>Sends</th><th>Bounces</th><th>Complaints</th><th>Bounce rate</th><th>Complaint rate</th></tr>");
        foreach (EmailFeedbackCounts counts in rows)
        {
            bool bounceHigh = breakers is not null && counts.Sends >= breakers.MinimumSends && counts.BounceRate >= breakers.BounceRateToReduce;
            bool complaintHigh = breakers is not null && counts.Sends >= breakers.MinimumSends && counts.ComplaintRate >= breakers.ComplaintRateToReduce;
            html.Raw("<tr class=\"ratio\"").Attr("data-dimension", counts.Dimension.ToString()).Raw(">").Cell(TenantPoolText.Dimension(counts.Dimension, counts.Partition)).PartyCell(request, counts.Dimension, counts.Partition, "all mail")
                .Cell(counts.Sends).Cell(counts.Bounces).Cell(counts.Complaints)
                .Raw("<td class=\"num bounce-rate").Raw(bounceHigh ? " high" : string.Empty).Raw("\">").Text(Percent(counts.BounceRate)).Raw("</td>")
                .Raw("<td class=\"num complaint-rate").Raw(complaintHigh ? " high" : string.Empty).Raw("\">").Text(Percent(counts.ComplaintRate)).Raw("</td></tr>");
        }

        html.Raw("</table>");
        return true;
    }

    private static string Hours(TimeSpan window)
        => window.TotalHours >= 1 && window.Ticks % TimeSpan.TicksPerHour == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{window.TotalHours:0} hours")
            : string.Create(CultureInfo.InvariantCulture, $"{window.TotalMinutes:0.#} minutes");

    private static string Percent(double ratio) => ratio.ToString("0.###%", CultureInfo.InvariantCulture);
}
