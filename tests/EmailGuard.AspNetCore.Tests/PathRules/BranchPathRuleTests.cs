using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A path the app serves outside routing (<c>app.Map</c>, a <c>MapWhen</c> on <c>StartsWithSegments</c>, a proxy) is
/// served below it too: <c>app.Map("/api/webhook/incoming")</c> runs its branch for <c>/api/webhook/incoming/x</c>. An
/// exact rule on the branch's path let every such path through uncounted.
/// </summary>
public sealed class BranchPathRuleTests
{
    private const string Ip = "203.0.113.21";
    private const string Rule = "POST:/api/webhook/incoming";

    private static async Task<(TestApp App, Func<int> Ran)> StartAsync(string branch, Dictionary<string, string?> rules)
    {
        int ran = 0;
        RequestDelegate handler = _ =>
        {
            Interlocked.Increment(ref ran);
            return Task.CompletedTask;
        };
        TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/api/webhook/incoming/status", () => Results.Ok());
                if (branch == "map+fallback")
                {
                    // Routing matches the fallback route for the paths below; the branch still runs ahead of it.
                    a.MapFallback(() => Results.NotFound());
                }

                if (branch.StartsWith("map", StringComparison.Ordinal) && branch != "mapwhen")
                {
                    a.Map("/api/webhook/incoming", b => b.Run(handler));
                }
                else
                {
                    a.MapWhen(c => c.Request.Path.StartsWithSegments("/api/webhook/incoming"), b => b.Run(handler));
                }
            },
            rules);
        return (app, () => Volatile.Read(ref ran));
    }

    private static async Task<List<HttpStatusCode>> SendAllAsync(TestApp app, string method, params string[] paths)
    {
        List<HttpStatusCode> statuses = [];
        foreach (string path in paths)
        {
            using HttpResponseMessage response = await app.SendAsync(new HttpMethod(method), path, Ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Theory]
    [InlineData("map")]
    [InlineData("mapwhen")]
    [InlineData("map+fallback")]
    public async Task ExactRule_OnABranchOutsideRouting_CountsThePathsBelowIt(string branch)
    {
        // Arrange: 1 an hour on the inbound webhook, which a branch serves, with the fallback beside it.
        (TestApp app, Func<int> ran) = await StartAsync(branch, MvcPathRuleApps.Rules(Rule, limit: 1, fallback: true));
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> statuses = await SendAllAsync(
            app, "POST", "/api/webhook/incoming", "/api/webhook/incoming/x", "/api/webhook/incoming/y/z", "/API/Webhook/Incoming/x");

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            "the branch serves every path below its own, each one more delivery to the webhook");
        ran().Should().Be(1);
    }

    [Fact]
    public async Task ExactRule_OnABranch_ReadsAndEndpointsBelowItAndWildcardRulesAsSpecific_AsBefore()
    {
        // Arrange: a wildcard rule written for the paths below keeps them, and an endpoint below is routed as before.
        Dictionary<string, string?> rules = MvcPathRuleApps.Rules(Rule, limit: 1);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/api/webhook/incoming/*";
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "2";
        rules["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00";
        rules["EmailGuard:Endpoints:PathRules:2:Endpoint"] = "GET:/api/webhook/incoming";
        rules["EmailGuard:Endpoints:PathRules:2:Limit"] = "1";
        rules["EmailGuard:Endpoints:PathRules:2:Window"] = "01:00:00";
        (TestApp app, Func<int> ran) = await StartAsync("map", rules);
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> posts = await SendAllAsync(app, "POST", "/api/webhook/incoming", "/api/webhook/incoming/x", "/api/webhook/incoming/y", "/api/webhook/incoming/z");
        List<HttpStatusCode> reads = await SendAllAsync(app, "GET", "/api/webhook/incoming/a.css", "/api/webhook/incoming/b.css", "/api/webhook/incoming/c.css");

        // Assert: the wildcard rule's 2 for the paths below (the status endpoint among them), the exact rule's 1 for its own.
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        reads.Should().AllBeEquivalentTo(HttpStatusCode.OK, "a read below a GET rule's path (a static file) is not the rule's page");
        ran().Should().Be(6);
    }

    [Fact]
    public async Task ExactRules_TwoAboveTheRequest_TheMostSpecificCountsIt_WhateverTheirOrder()
    {
        // Arrange: a broad rule first in the configuration, the webhook's own second (the rules are tried most specific
        // first, so the first rule found above the path is the most specific one).
        Dictionary<string, string?> rules = MvcPathRuleApps.Rules("POST:/api", limit: 100);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = Rule;
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "1";
        rules["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00";
        (TestApp app, Func<int> ran) = await StartAsync("map", rules);
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> posts = await SendAllAsync(app, "POST", "/api/webhook/incoming/x", "/api/webhook/incoming/y", "/api/webhook/incoming/z");

        // Assert: the webhook's 1 an hour, not the broad rule's 100.
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        ran().Should().Be(1);
    }
}
