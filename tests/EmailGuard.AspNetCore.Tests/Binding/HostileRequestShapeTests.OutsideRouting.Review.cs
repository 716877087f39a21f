using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Rewrite;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// What a review of the check of a path set after the guard found: a refused path that was written before the refusal
/// was served by a middleware that caught it and went on; and two ordinary setups it refused (a folder's default
/// document under a <c>GET:</c> wildcard rule, a <c>GET:/*</c> catch-all beside a more specific rule).
/// </summary>
public sealed partial class HostileRequestShapeTests
{
    [Theory]
    [InlineData("retry")]
    [InlineData("try-catch")]
    public async Task RewriteAfterGuard_RefusalCaughtBelowTheGuard_StillServesNothingUncounted(string how)
    {
        // Arrange: between the guard and the rewrite, a middleware that retries on any exception, or a rewrite in a
        // try/catch that goes on when the path cannot be set.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule,
            a =>
            {
                a.UseEmailGuard();
                if (how == "retry")
                {
                    a.Use(async (c, next) =>
                    {
                        try
                        {
                            await next(c);
                        }
                        catch (Exception)
                        {
                            await next(c);
                        }
                    });
                    a.UseRewriter(WebhookAlias());
                }
                else
                {
                    a.Use((c, next) =>
                    {
                        if (c.Request.Path == "/legacy/incoming")
                        {
                            try
                            {
                                c.Request.Path = "/api/webhook/incoming";
                            }
                            catch (Exception)
                            {
                                // Best effort.
                            }
                        }

                        return next(c);
                    });
                }
            },
            (a, h) => ServeWebhook(a, h, "map"));
        await using TestApp _ = app;

        // Act
        await app.PostAllAsync(Ip, "/legacy/incoming", "/legacy/incoming", "/legacy/incoming");

        // Assert: the refused path never reached the request, so what went on served the alias (nothing), never the
        // rule's handler. Before, the path was written and then refused, and 3 of 3 ran the handler uncounted.
        ran().Should().Be(0);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3166);
    }

    [Fact]
    public async Task RewriteAfterGuard_ExceptionHandlerBelowTheGuard_AnswersItsPage_AndTheServerSeesNoException()
    {
        // Arrange: UseExceptionHandler placed after the guard catches the refusal, serves its page, and puts back the
        // path it saved. Before, it saved the rewritten path, and putting it back was refused again after the page had
        // started: every request was aborted at the server.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            WebhookRule,
            a =>
            {
                a.UseEmailGuard();
                a.UseExceptionHandler("/error");
                a.UseRewriter(WebhookAlias());
                a.Map("/error", b => b.Run(c => c.Response.WriteAsync("error page")));
            },
            (a, h) => ServeWebhook(a, h, "map"));
        await using TestApp _ = app;

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/legacy/incoming", "/legacy/incoming", "/legacy/incoming");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        ran().Should().Be(0);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 3166);
    }

    [Fact]
    public async Task DefaultDocumentAfterGuard_UnderAGetWildcardRule_IsServed()
    {
        // Arrange: what UseDefaultFiles() after the guard does for a folder holding index.html, under GET:/invite/*,
        // which the folder's own request (/invite/) does not match.
        (TestApp app, Func<int> ran) = await StartOutsideRoutingAsync(
            "GET:/invite/*",
            a =>
            {
                a.UseEmailGuard();
                a.Use((c, next) =>
                {
                    if (c.Request.Path.Value!.EndsWith('/'))
                    {
                        c.Request.Path = new PathString(c.Request.Path.Value + "index.html");
                    }

                    return next(c);
                });
            },
            (a, h) => a.Run(h));
        await using TestApp _ = app;

        // Act
        using HttpResponseMessage response = await app.GetAsync("/invite/", Ip);

        // Assert: served, as before the check (it answered 500).
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        ran().Should().Be(1);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("GET:/*")]
    public async Task FallbackEndpointSettingItsFile_BesideAWildcardOnlyCatchAll_IsServed(string catchAll)
    {
        // Arrange: a MapFallbackToFile-like endpoint that sets /index.html, under GET:/reports/* beside a catch-all
        // written as * or as GET:/* (every path but the root).
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
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "20",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = catchAll,
                ["EmailGuard:Endpoints:PathRules:1:Limit"] = "100",
                ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
            });

        // Act
        List<HttpStatusCode> statuses = [];
        foreach (string path in (string[])["/reports/1", "/reports/2", "/other"])
        {
            using HttpResponseMessage response = await app.GetAsync(path, Ip);
            statuses.Add(response.StatusCode);
        }

        // Assert: with GET:/*, /reports/1 and /reports/2 answered 500 before.
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        served.Should().Be(3);
    }
}
