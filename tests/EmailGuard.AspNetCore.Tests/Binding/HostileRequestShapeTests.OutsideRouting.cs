using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Rewrite;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A rewrite, a path base or a method override placed after <c>UseEmailGuard()</c> changes the request after the path
/// rules were matched. An endpoint routing chooses again is checked where it runs; a handler outside routing (an
/// <c>app.Map</c> or <c>MapWhen</c> branch, <c>app.Run</c>, a proxy middleware) is not: under a
/// <c>POST:/api/webhook/incoming</c> rule with a limit of 1 an hour, 4 of 4 requests to a <c>^legacy/incoming$</c> alias
/// ran the branch that serves the rule's path.
/// </summary>
public sealed partial class HostileRequestShapeTests
{
    private const string WebhookRule = "POST:/api/webhook/incoming";

    /// <summary>
    /// An app with one path rule, 1 an hour per client IP, whose path <paramref name="serve"/> serves outside routing
    /// (no endpoint is mapped there); <paramref name="pipeline"/> places the middleware under test around
    /// <c>UseEmailGuard()</c>, after routing. The handler counts the requests it ran.
    /// </summary>
    private static async Task<(TestApp App, Func<int> Ran)> StartOutsideRoutingAsync(
        string rule, Action<WebApplication> pipeline, Action<WebApplication, RequestDelegate> serve)
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
                pipeline(a);
                serve(a, handler);
            },
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = rule,
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
            },
            useEmailGuard: false);
        return (app, () => Volatile.Read(ref ran));
    }

    private static void ServeWebhook(WebApplication app, RequestDelegate handler, string how)
    {
        switch (how)
        {
            case "map":
                app.Map("/api/webhook/incoming", b => b.Run(handler));
                break;
            case "mapwhen":
                app.MapWhen(c => c.Request.Path.StartsWithSegments("/api/webhook/incoming"), b => b.Run(handler));
                break;
            case "proxy":
                app.Use((c, next) => c.Request.Path.StartsWithSegments("/api/webhook/incoming") ? handler(c) : next(c));
                break;
            default:
                app.Run(c => c.Request.Path.StartsWithSegments("/api/webhook/incoming") ? handler(c) : Task.CompletedTask);
                break;
        }
    }

    private static RewriteOptions WebhookAlias() => new RewriteOptions()
        .AddRewrite("^legacy/incoming$", "api/webhook/incoming", skipRemainingRules: true)
        .AddRewrite("^api/webhook/incoming/v1$", "api/webhook/incoming", skipRemainingRules: true)
        .AddRewrite("^legacy/open$", "api/open", skipRemainingRules: true);

    [Theory]
    [InlineData("map")]
    [InlineData("mapwhen")]
    [InlineData("run")]
    [InlineData("proxy")]
    public async Task RewriterAfterTheGuard_OntoAPathServedOutsideRouting_IsRefused_AndTheHandlerNeverRuns(string how)
    {
        // Arrange
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule, a => { a.UseEmailGuard(); a.UseRewriter(WebhookAlias()); }, (a, h) => ServeWebhook(a, h, how));
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> aliased = await app.PostAllAsync(Ip, "/legacy/incoming", "/legacy/incoming", "/legacy/incoming", "/legacy/incoming");
        int ranThroughAlias = ran();
        List<HttpStatusCode> direct = await app.PostAllAsync(Ip, "/api/webhook/incoming", "/api/webhook/incoming");

        // Assert
        aliased.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError, "the guard never counted the rule the alias is rewritten onto");
        ranThroughAlias.Should().Be(0);
        direct.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        ran().Should().Be(1);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle("the misplaced rewriter is logged once per rule")
            .Which.Message.Should().Contain($"'{WebhookRule}'").And.Contain("'POST /api/webhook/incoming'").And.Contain("UseEmailGuard()");
    }

    [Fact]
    public async Task RewriterAfterTheGuard_InsideABranch_OntoARulesPathBelowTheBranch_IsRefused()
    {
        // The branch strips /legacy into the path base; the rewriter in it sets the path below the base onto the rule's
        // path, which a guard placed in the branch would count the request under.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule,
            a => a.UseEmailGuard(),
            (a, h) => a.Map("/legacy", b =>
            {
                b.UseRewriter(new RewriteOptions().AddRewrite("^incoming$", "api/webhook/incoming", skipRemainingRules: true));
                b.Map("/api/webhook/incoming", w => w.Run(h));
            }));
        await using TestApp _ = app;

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/legacy/incoming", "/legacy/incoming", "/legacy/incoming");

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3166);
        ran().Should().Be(0);
    }

    [Theory]
    [InlineData("map")]
    [InlineData("mapwhen")]
    public async Task PathBaseAfterTheGuard_OntoAPathServedOutsideRouting_IsRefused(string how)
    {
        // Arrange: /app/api/webhook/incoming matches no rule where the guard looks; UsePathBase then strips the base.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule, a => { a.UseEmailGuard(); a.UsePathBase("/app"); }, (a, h) => ServeWebhook(a, h, how));
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> based = await app.PostAllAsync(Ip, "/app/api/webhook/incoming", "/app/api/webhook/incoming", "/app/api/webhook/incoming");
        int ranThroughBase = ran();
        List<HttpStatusCode> direct = await app.PostAllAsync(Ip, "/api/webhook/incoming", "/api/webhook/incoming");

        // Assert
        based.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        ranThroughBase.Should().Be(0);
        direct.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        ran().Should().Be(1);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle().Which.Message.Should().Contain($"'{WebhookRule}'");
    }

    [Theory]
    [InlineData("DELETE")]
    [InlineData("delete")]
    public async Task MethodOverrideAfterTheGuard_OntoARuleMethodServedOutsideRouting_IsRefused(string method)
    {
        // Arrange: DELETE /api/account closes the account (and mails its owner); a branch serves it, by method. A POST
        // there matches no rule where the guard looks, and the override makes it the DELETE after the guard.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            "DELETE:/api/account",
            a => { a.UseEmailGuard(); a.UseHttpMethodOverride(); },
            (a, h) => a.MapWhen(c => c.Request.Path == "/api/account" && HttpMethods.IsDelete(c.Request.Method), b => b.Run(h)));
        await using TestApp _ = app;

        // Act
        var overridden = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++)
        {
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/api/account", Ip);
            request.Headers.Add("X-HTTP-Method-Override", method);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            overridden.Add(response.StatusCode);
        }

        int ranThroughOverride = ran();
        var direct = new List<HttpStatusCode>();
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage response = await app.SendAsync(HttpMethod.Delete, "/api/account", Ip);
            direct.Add(response.StatusCode);
        }

        // Assert
        overridden.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        ranThroughOverride.Should().Be(0);
        direct.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        ran().Should().Be(1);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle().Which.Message.Should().Contain("'DELETE:/api/account'");
    }

    [Fact]
    public async Task RewriteAfterTheGuard_OntoAHeadOfAGetRule_IsRefused()
    {
        // A GET rule covers HEAD, which a branch serving GET answers the same way.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            "GET:/export",
            a => { a.UseEmailGuard(); a.UseRewriter(new RewriteOptions().AddRewrite("^old-export$", "export", skipRemainingRules: true)); },
            (a, h) => a.Map("/export", b => b.Run(h)));
        await using TestApp _ = app;

        using HttpResponseMessage head = await app.SendAsync(HttpMethod.Head, "/old-export", Ip);
        using HttpResponseMessage get = await app.SendAsync(HttpMethod.Get, "/old-export", Ip);

        head.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        get.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        ran().Should().Be(0);
    }

    [Fact]
    public async Task RewriterAfterTheGuard_OntoTheRuleTheRequestCounted_OrOntoAPathNoRuleCovers_RunsAsBefore()
    {
        // Arrange: /api/webhook/incoming/v1 is below the rule's path, served by the branch too, so the guard counted the
        // rule there; /legacy/open is rewritten onto /api/open, which no rule covers.
        int open = 0;
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule,
            a => { a.UseEmailGuard(); a.UseRewriter(WebhookAlias()); },
            (a, h) =>
            {
                ServeWebhook(a, h, "map");
                a.Map("/api/open", b => b.Run(_ =>
                {
                    Interlocked.Increment(ref open);
                    return Task.CompletedTask;
                }));
            });
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> counted = await app.PostAllAsync(Ip, "/api/webhook/incoming/v1", "/api/webhook/incoming/v1", "/api/webhook/incoming");
        List<HttpStatusCode> uncovered = await app.PostAllAsync(Ip, "/legacy/open", "/legacy/open", "/legacy/open");

        // Assert
        counted.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        ran().Should().Be(1);
        uncovered.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        open.Should().Be(3);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3166);
    }

    [Fact]
    public async Task EndpointSettingItsOwnPath_UnderARuleBesideTheFallback_RunsAsBefore()
    {
        // A MapFallbackToFile endpoint sets the path to the file it serves (/index.html), which only the * fallback
        // covers; the request was counted under the more specific GET:/reports/* rule.
        int served = 0;
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapFallback(c =>
            {
                c.Request.Path = "/index.html";
                Interlocked.Increment(ref served);
                return Task.CompletedTask;
            }),
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "GET:/reports/*",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "2",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "*",
                ["EmailGuard:Endpoints:PathRules:1:Limit"] = "100",
                ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
            });

        var statuses = new List<HttpStatusCode>();
        foreach (string path in (string[])["/reports/1", "/reports/2", "/reports/3", "/other"])
        {
            using HttpResponseMessage response = await app.GetAsync(path, Ip);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK);
        served.Should().Be(3);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3166);
    }

    [Fact]
    public async Task ExceptionHandlerAfterTheGuard_SwallowingTheRefusal_StillNeverRunsTheHandler()
    {
        // A middleware between the guard and the rewriter that catches everything (and answers its own error page) still
        // stops the rewriter's pipeline: the branch never runs.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule,
            a =>
            {
                a.UseEmailGuard();
                a.Use(async (c, next) =>
                {
                    try
                    {
                        await next(c);
                    }
                    catch (Exception)
                    {
                        c.Response.StatusCode = StatusCodes.Status502BadGateway;
                    }
                });
                a.UseRewriter(WebhookAlias());
            },
            (a, h) => ServeWebhook(a, h, "map"));
        await using TestApp _ = app;

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/legacy/incoming", "/legacy/incoming");

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.BadGateway);
        ran().Should().Be(0);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3166, "the refusal is logged where it is made, whoever catches it");
    }
}
