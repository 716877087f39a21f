using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class SignupIncidentTests
{
    private static Task<TestApp> StartSignupAppAsync() => TestApp.StartAsync(
        services => services.AddEmailGuard().AddEndpointPolicies(o =>
            o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.FixedWindow(1, TimeSpan.FromMinutes(15)))
)),
        app => app.MapPost("/signup", () => Results.Ok("created")).RequireEmailRateLimit("signup"));

    [Fact]
    public async Task Signup_OneIpPostsTenTimes_OneSucceedsNineGet429()
    {
        await using TestApp app = await StartSignupAppAsync();

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");
            statuses.Add(response.StatusCode);
        }

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(1);
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).Should().Be(9);
        statuses[0].Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Signup_FakeTimeAdvances_RetryAfterCountsDownThenAdmits()
    {
        await using TestApp app = await StartSignupAppAsync();
        (await app.PostAsync("/signup", "203.0.113.7")).StatusCode.Should().Be(HttpStatusCode.OK);

        using HttpResponseMessage first = await app.PostAsync("/signup", "203.0.113.7");
        first.RetryAfterSeconds().Should().Be(900);

        app.Time.Advance(TimeSpan.FromMinutes(5));
        using HttpResponseMessage second = await app.PostAsync("/signup", "203.0.113.7");
        second.RetryAfterSeconds().Should().Be(600);

        app.Time.Advance(TimeSpan.FromSeconds(599.2));
        using HttpResponseMessage third = await app.PostAsync("/signup", "203.0.113.7");
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        third.RetryAfterSeconds().Should().Be(1, "a fraction of a second is rounded up to a whole second");

        app.Time.Advance(TimeSpan.FromSeconds(0.8));
        using HttpResponseMessage afterWindow = await app.PostAsync("/signup", "203.0.113.7");
        afterWindow.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Signup_FirstIpLimited_SecondIpUnaffected()
    {
        await using TestApp app = await StartSignupAppAsync();
        for (int i = 0; i < 10; i++)
        {
            (await app.PostAsync("/signup", "203.0.113.7")).Dispose();
        }

        using HttpResponseMessage other = await app.PostAsync("/signup", "198.51.100.20");

        other.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Rejection_Default_ProblemDetailsAndIetfHeaders()
    {
        await using TestApp app = await StartSignupAppAsync();
        (await app.PostAsync("/signup", "203.0.113.7")).Dispose();
        app.Time.Advance(TimeSpan.FromMinutes(1));

        using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");

        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        string body = await response.Content.ReadAsStringAsync();
        using var json = System.Text.Json.JsonDocument.Parse(body);
        json.RootElement.GetProperty("status").GetInt32().Should().Be(429);
        json.RootElement.GetProperty("title").GetString().Should().Be("Too Many Requests");
        json.RootElement.GetProperty("retryAfter").GetInt64().Should().Be(840);
        json.RootElement.GetProperty("policy").GetString().Should().Be("signup");
        response.Header("Retry-After").Should().Be("840");
        response.Header("RateLimit-Policy").Should().Be("\"signup.ip.900s\";q=1;w=900");
        response.Header("RateLimit").Should().Be("\"signup.ip.900s\";r=0;t=840");
    }

    [Fact]
    public async Task AllowedResponse_QuotaHeadersNotRequested_CarriesNoRateLimitHeaders()
    {
        await using TestApp app = await StartSignupAppAsync();

        using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Header("RateLimit").Should().BeNull();
        response.Header("RateLimit-Policy").Should().BeNull();
    }
}
