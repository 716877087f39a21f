using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// The endpoint policies: which endpoints use them, their decisions in the last hour, those from configuration with their
/// rules, and the path rules, as the configuration stands now.
/// </summary>
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

        // The configuration as it stands now, reloads included: a reload the endpoints refused shows as its failure, and
        // they keep the rules they had.
        EmailGuardEndpointOptions? options;
        try
        {
            options = request.Services.GetService<IOptionsMonitor<EmailGuardEndpointOptions>>()?.CurrentValue;
        }
        catch (OptionsValidationException ex)
        {
            html.Raw("<p class=\"notice bad\" id=\"endpoints-invalid\">The current <code>EmailGuard:Endpoints</code> configuration is invalid, so the endpoints keep the rules they had (event 207): ").Text(ex.Message).Raw("</p>");
            await DashboardLayout.WriteAsync(request, "/policies", "Endpoint policies", html).ConfigureAwait(false);
            return;
        }

        ConfiguredPolicies(html, options);
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

    /// <summary>
    /// The named policies from configuration (<c>EmailGuard:Endpoints:Policies</c>), one row a partition, with its rules;
    /// a policy added in code holds delegates, and is listed among the endpoints by name only.
    /// </summary>
    private static void ConfiguredPolicies(Html html, EmailGuardEndpointOptions? options)
    {
        html.Raw("<h2>Policies from configuration</h2>");
        if (options is null || options.Policies.Count == 0)
        {
            html.Raw("<p class=\"muted\" id=\"no-configured-policies\">No policies are configured (<code>EmailGuard:Endpoints:Policies</code>); policies added in code are listed above by name.</p>");
            return;
        }

        html.Raw("<table id=\"configured-policies\"><tr><th>Policy</th><th>Per</th><th>Rules</th><th>Store failure</th><th>Mode</th></tr>");
        foreach (KeyValuePair<string, EmailGuardPolicyOptions> policy in options.Policies.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            foreach (EmailGuardPolicyPartitionOptions partition in policy.Value.Partitions)
            {
                html.Raw("<tr>").Cell(policy.Key).Cell(Per(partition))
                    .Cell(string.Join("; ", partition.Rules.Select(r => OverviewPage.Describe(r.ToRule()))))
                    .Cell(policy.Value.FailureMode.ToString()).Cell(policy.Value.ShadowMode ? "shadow: counts, never blocks" : "enforced").Raw("</tr>");
            }
        }

        html.Raw("</table>");
    }

    /// <summary>What a configured policy's partition counts by, e.g. <c>Field email</c> or <c>ClientNetwork (IPv4 /24, IPv6 /48)</c>.</summary>
    private static string Per(EmailGuardPolicyPartitionOptions partition) => partition.PartitionBy == PolicyPartitionKind.ClientNetwork
        ? Network(partition.IPv4PrefixLength, partition.IPv6PrefixLength)
        : partition.Name is { } name ? $"{partition.PartitionBy} {name}" : partition.PartitionBy.ToString();

    /// <summary>Who a path rule counts for; a client network with its prefix lengths, e.g. <c>ClientNetwork (IPv4 /24, IPv6 /48)</c>.</summary>
    private static string Per(EmailGuardPathRule rule)
        => rule.PartitionBy == PathRulePartitionKind.ClientNetwork ? Network(rule.IPv4PrefixLength, rule.IPv6PrefixLength) : rule.PartitionBy.ToString();

    /// <summary>A client network partition with its prefix lengths, the defaults where unset.</summary>
    private static string Network(int? ipv4PrefixLength, int? ipv6PrefixLength) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"ClientNetwork (IPv4 /{ipv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength}, IPv6 /{ipv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength})");
}
