using EmailGuard.AspNetCore;
using EmailGuard.Dashboard.Tests.Pages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The policies page lists every endpoint the middleware limits, a Razor page handler's policy included.</summary>
public sealed class DashboardPoliciesTests
{
    [Fact]
    public async Task PoliciesPage_PageHandlerPolicy_ListedWithItsMethodAndHandler()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s =>
            {
                s.AddRazorPages().AddApplicationPart(typeof(SignupModel).Assembly);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                {
                    o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                    o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                });
            },
            endpoints: app =>
            {
                app.MapRazorPages();
                app.MapPost("/api/share", () => Results.Ok()).RequireEmailRateLimit("share");
                app.MapGet("/api/status", () => Results.Ok()).RequireEmailRateLimit("share").DisableEmailRateLimit();
            });

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("<tr><td>/Signup</td><td>POST</td><td>OnPost</td><td>signup</td></tr>");
        html.Should().Contain("<tr><td>/api/share</td><td>POST</td><td></td><td>share</td></tr>");
        html.Should().Contain("<tr><td>/api/status</td><td>GET</td><td></td><td>none: EmailGuard disabled</td></tr>");
    }

    [Fact]
    public async Task PoliciesPage_ClientNetworkPathRule_ShowsItsPrefixLengths()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.PathRules.Add(new EmailGuardPathRule { Endpoint = "POST:/api/signup", Limit = 1 });
                o.PathRules.Add(new EmailGuardPathRule { Endpoint = "POST:/api/signup", Limit = 10, PartitionBy = PathRulePartitionKind.ClientNetwork, IPv6PrefixLength = 56 });
            }));

        string html = await host.Client().GetStringAsync("/emailguard/policies");

        html.Should().Contain("<td>ClientIp</td>");
        html.Should().Contain("<td>ClientNetwork (IPv4 /24, IPv6 /56)</td>");
    }
}
