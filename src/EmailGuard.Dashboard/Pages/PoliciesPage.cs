using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>The endpoint policies: which endpoints use them, their decisions in the last hour, and the path rules.</summary>
internal static class PoliciesPage
{
    public static async Task RenderAsync(DashboardRequest request)
    {
        Html html = new();
        ActivityView activity = await request.Services.GetRequiredService<ActivityExchange>().ReadAsync(request.Context.RequestAborted).ConfigureAwait(false);
        IReadOnlyList<(string Policy, long Allowed, long Denied, IReadOnlyDictionary<string, long> ByOutcome)> decisions = activity.Policies();
        html.Raw("<h2>Decisions in the last hour, all instances</h2>");
        if (activity.OthersUnavailable is { } unavailable)
        {
            html.StoreUnavailable("Other instances: ", unavailable);
        }

        if (decisions.Count == 0)
        {
            html.Raw("<p class=\"muted\" id=\"no-decisions\">No endpoint policy decided a request in the last hour.</p>");
        }
        else
        {
            html.Raw("<table id=\"policy-decisions\"><tr><th>Policy or path rule</th><th>Allowed</th><th>Denied</th><th>By outcome</th></tr>");
            foreach ((string policy, long allowed, long denied, IReadOnlyDictionary<string, long> byOutcome) in decisions)
            {
                html.Raw("<tr>").Cell(policy).Cell(allowed).Cell(denied)
                    .Cell(string.Join(", ", byOutcome.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}: {o.Value}"))).Raw("</tr>");
            }

            html.Raw("</table>");
        }

        html.Raw("<h2>Endpoints with a policy or an exemption</h2><table id=\"policy-endpoints\"><tr><th>Endpoint</th><th>Methods</th><th>Page handler</th><th>Policy</th></tr>");
        IEnumerable<Endpoint> endpoints = request.Services.GetServices<EndpointDataSource>().SelectMany(source => source.Endpoints);

        // An Index page answers two routes (/Signup and /Signup/Index) with the same rules: one row for both.
        foreach (var row in EmailRateLimitEndpoints.Describe(endpoints)
            .GroupBy(d => (Endpoint: d.Page ?? d.Route, Methods: d.HttpMethods.Count == 0 ? "any" : string.Join(", ", d.HttpMethods), d.PageHandler, d.PolicyName)))
        {
            html.Raw("<tr>").Cell(string.Join(", ", row.Select(d => d.Route).Distinct(StringComparer.Ordinal))).Cell(row.Key.Methods).Cell(row.Key.PageHandler)
                .Cell(row.Key.PolicyName ?? "none: EmailGuard disabled").Raw("</tr>");
        }

        html.Raw("</table>");
        EmailGuardEndpointOptions? options = request.Services.GetService<IOptions<EmailGuardEndpointOptions>>()?.Value;
        html.Raw("<h2>Path rules</h2>");
        if (options is null || options.PathRules.Count == 0)
        {
            html.Raw("<p class=\"muted\">No path rules are configured (<code>EmailGuard:Endpoints:PathRules</code>).</p>");
        }
        else
        {
            html.Raw("<table id=\"path-rules\"><tr><th>Endpoint</th><th>Rule</th><th>Per</th></tr>");
            foreach (EmailGuardPathRule rule in options.PathRules)
            {
                html.Raw("<tr>").Cell(rule.Endpoint).Cell(OverviewPage.Describe(new RateLimitRule(Math.Max(1, rule.Limit), rule.Window, rule.Algorithm, rule.Segments)))
                    .Cell(Per(rule)).Raw("</tr>");
            }

            html.Raw("</table>");
        }

        await DashboardLayout.WriteAsync(request, "/policies", "Endpoint policies", html).ConfigureAwait(false);
    }

    /// <summary>Who a path rule counts for; a client network with its prefix lengths, e.g. <c>ClientNetwork (IPv4 /24, IPv6 /48)</c>.</summary>
    private static string Per(EmailGuardPathRule rule) => rule.PartitionBy == PathRulePartitionKind.ClientNetwork
        ? string.Create(
            System.Globalization.CultureInfo.InvariantCulture,
            $"ClientNetwork (IPv4 /{rule.IPv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength}, IPv6 /{rule.IPv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength})")
        : rule.PartitionBy.ToString();
}
