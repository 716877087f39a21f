using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A tenant header sent more than once: <c>PerTenantHeader</c> counted the first copy, while the app may act on
/// another (the last, by its own resolver) or on the copies joined (<c>[FromHeader] string</c>,
/// <c>(string)Request.Headers["X-Tenant"]</c>). A decoy first copy, fresh on every request, then passed the tenant's
/// limit for the tenant named last. Each distinct copy is now counted.
/// </summary>
public sealed class RepeatedTenantHeaderTests
{
    private static Task<TestApp> StartAsync()
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("invite", p => p.PerTenantHeader("X-Tenant", RateLimitRule.PerHour(2)))),
            a => a.MapPost("/invite", (HttpContext context) => Results.Ok(context.Request.Headers["X-Tenant"].LastOrDefault())).RequireEmailRateLimit("invite"));

    private static async Task<List<HttpStatusCode>> SendAsync(TestApp app, int times, Func<int, string[]> tenants)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < times; i++)
        {
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, "/invite", $"203.0.113.{i % 250}");
            foreach (string tenant in tenants(i))
            {
                request.Headers.Add("X-Tenant", tenant);
            }

            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task DecoyCopyFirst_EveryRequestStillCountsForTheTenantNamedAfterIt()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> statuses = await SendAsync(app, 10, i => [$"decoy-{i}", "acme"]);

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(2, "acme's limit is 2 an hour, whichever copy the app reads");
        (await SendAsync(app, 1, _ => ["acme"])).Should().Equal([HttpStatusCode.TooManyRequests]);
    }

    [Fact]
    public async Task SameTenantTwice_InAnySpelling_CountsOnce()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> statuses = await SendAsync(app, 3, _ => ["acme", " ACME"]);

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], "one tenant, counted once per request");
    }

    [Fact]
    public async Task ManyCopies_CountAtMostSixteenValues_TheRestInTheSharedBucket()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> statuses = await SendAsync(app, 3, i => [.. Enumerable.Range(0, 20).Select(n => $"decoy-{i}-{n}"), "acme"]);

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(2, "what is past the sixteenth value shares one bucket, which holds the limit for all such requests");
    }
}
