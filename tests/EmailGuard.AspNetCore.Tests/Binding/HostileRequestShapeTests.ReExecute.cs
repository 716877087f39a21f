using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// <c>UseExceptionHandler("/error")</c> and <c>UseStatusCodePagesWithReExecute(...)</c> placed first run the pipeline
/// again for the error page: routing chooses the page after the guard has seen the request, and the guard's second pass
/// decides the page. With a <c>*</c> fallback rule beside an endpoint's own rule (the global per-IP fallback the docs
/// recommend), the page is covered by a rule the first pass did not count.
/// </summary>
public sealed partial class HostileRequestShapeTests
{
    private static Dictionary<string, string?> EndpointAndFallbackRules(string endpoint) => new()
    {
        ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = endpoint,
        ["EmailGuard:Endpoints:PathRules:0:Limit"] = "3",
        ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
        ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "*",
        ["EmailGuard:Endpoints:PathRules:1:Limit"] = "100",
        ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
    };

    private static async Task<List<(HttpStatusCode Status, string Body)>> PostAllAsync(TestApp app, string path, int attempts)
    {
        List<(HttpStatusCode, string)> responses = [];
        for (int i = 0; i < attempts; i++)
        {
            using HttpResponseMessage response = await app.PostAsync(path, Ip);
            responses.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
        }

        return responses;
    }

    [Fact]
    public async Task ExceptionHandlerReExecute_UnderAFallbackRule_ServesTheErrorPage_AndTheEndpointsRuleStillLimits()
    {
        int ran = 0;
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/api/boom", () =>
                {
                    Interlocked.Increment(ref ran);
                    throw new InvalidOperationException("boom");
                });
                a.Map("/error", () => Results.Text("error page", statusCode: StatusCodes.Status500InternalServerError));
            },
            EndpointAndFallbackRules("POST:/api/boom"),
            beforeRouting: a => a.UseExceptionHandler("/error"));

        List<(HttpStatusCode Status, string Body)> responses = await PostAllAsync(app, "/api/boom", 4);

        responses.Select(r => r.Status).Should().Equal(
            HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.TooManyRequests);
        responses.Take(3).Should().AllSatisfy(r => r.Body.Should().Be("error page", "the guard counted the fallback rule on the second pass, so the page runs"));
        ran.Should().Be(3);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3067);
    }

    [Fact]
    public async Task StatusCodePagesReExecute_UnderAFallbackRule_ServesTheStatusPage_AndTheEndpointsRuleStillLimits()
    {
        int ran = 0;
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/api/lookup", () =>
                {
                    Interlocked.Increment(ref ran);
                    return Results.NotFound();
                });
                a.Map("/status/{code:int}", (int code) => Results.Text("status page " + code, statusCode: code));
            },
            EndpointAndFallbackRules("POST:/api/lookup"),
            beforeRouting: a => a.UseStatusCodePagesWithReExecute("/status/{0}"));

        List<(HttpStatusCode Status, string Body)> responses = await PostAllAsync(app, "/api/lookup", 4);

        responses.Select(r => r.Status).Should().Equal(HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.NotFound, HttpStatusCode.TooManyRequests);
        responses.Take(3).Should().AllSatisfy(r => r.Body.Should().Be("status page 404"));
        ran.Should().Be(3);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3067);
    }
}
