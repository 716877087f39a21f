using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Routing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A dynamic controller route (<c>MapDynamicControllerRoute</c>) picks its action per request, from what its transformer
/// answers: the endpoint a request reaches has no route of its own, and a path rule on the action's route left every path
/// of the dynamic route unlimited. It now counts under the rule of the action's routes, with the values the transformer gives.
/// </summary>
public sealed class DynamicRoutePathRuleTests
{
    private const string Ip = "203.0.113.8";

    private static Task<TestApp> StartAsync(Dictionary<string, string?> rules) => TestApp.StartAsync(
        s =>
        {
            s.AddSingleton<SlugTransformer>();
            // The attribute-routed test controllers of this assembly require these policies.
            s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(100)));
                o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(100)));
            });
            s.AddControllersWithViews().AddApplicationPart(typeof(DynamicRoutePathRuleTests).Assembly);
        },
        a =>
        {
            a.MapControllerRoute("default", "{controller=Home}/{action=Index}/{id?}");
            a.MapControllerRoute("invite", "t/{tenant}/invite", new { controller = "ConventionalAccount", action = "Invite" });
            a.MapDynamicControllerRoute<SlugTransformer>("dyn/{**slug}");
        },
        rules);

    [Fact]
    public async Task ExactRule_DynamicRouteToTheRulesAction_CountsInTheRulesCounter()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/conventionalaccount/signup", limit: 2));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/dyn/signup", "/dyn/join", "/conventionalaccount/signup", "/dyn/signup");

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
    }

    [Fact]
    public async Task ExactRule_DynamicRouteToAnotherAction_IsNotCovered()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/conventionalaccount/signup", limit: 1));
        (await app.PostAllAsync(Ip, "/dyn/signup")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/dyn/confirm", "/dyn/confirm", "/dyn/invite/acme");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the transformer sent them to other actions");
    }

    [Fact]
    public async Task ExactRule_OnARouteValue_TheDynamicRouteCountsOnlyTheRulesValue()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/t/acme/invite", limit: 1));
        (await app.PostAllAsync(Ip, "/dyn/invite/acme")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> acme = await app.PostAllAsync(Ip, "/dyn/invite/ACME", "/t/acme/invite");
        List<HttpStatusCode> globex = await app.PostAllAsync(Ip, "/dyn/invite/globex", "/t/globex/invite", "/dyn/invite/globex");

        // Assert
        acme.Should().Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
        globex.Should().AllBeEquivalentTo(HttpStatusCode.OK, "another tenant's invite is not the rule's");
    }

    /// <summary>Sends <c>signup</c> and <c>join</c> to the signup action, <c>confirm</c> to confirm, and <c>invite/{tenant}</c> to invite.</summary>
    private sealed class SlugTransformer : DynamicRouteValueTransformer
    {
        public override ValueTask<RouteValueDictionary> TransformAsync(HttpContext httpContext, RouteValueDictionary values)
        {
            string[] slug = (values["slug"] as string ?? "").Split('/');
            var result = new RouteValueDictionary { ["controller"] = "ConventionalAccount" };
            switch (slug)
            {
                case ["signup" or "join"]:
                    result["action"] = "Signup";
                    break;
                case ["confirm"]:
                    result["action"] = "Confirm";
                    break;
                case ["invite", string tenant]:
                    result["action"] = "Invite";
                    result["tenant"] = tenant;
                    break;
                default:
                    result["action"] = "None";
                    break;
            }

            return ValueTask.FromResult(result);
        }
    }
}
