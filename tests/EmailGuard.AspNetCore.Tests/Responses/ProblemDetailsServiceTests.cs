using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class ProblemDetailsServiceTests
{
    [Fact]
    public async Task Rejection_AppRegistersProblemDetails_AppCustomizationAppliesTo429()
    {
        await using TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["app"] = "sample-42");
                s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1))));
            },
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        using HttpResponseMessage first = await app.PostAsync("/signup", "203.0.113.7");
        using HttpResponseMessage limited = await app.PostAsync("/signup", "203.0.113.7");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        limited.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using JsonDocument body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("app").GetString().Should().Be("sample-42");
        body.RootElement.GetProperty("traceId").GetString().Should().NotBeNullOrEmpty("the framework's writer adds the trace id");
        body.RootElement.GetProperty("status").GetInt32().Should().Be(429);
        body.RootElement.GetProperty("policy").GetString().Should().Be("signup");
        body.RootElement.GetProperty("retryAfter").GetInt64().Should().Be(limited.RetryAfterSeconds());
        body.RootElement.GetProperty("type").GetString().Should().Be("https://www.rfc-editor.org/rfc/rfc6585#section-4");
    }

    [Fact]
    public async Task StoreUnavailable_AppRegistersProblemDetails_503CarriesAppCustomization()
    {
        await using TestApp app = await TestApp.StartAsync(
            s =>
            {
                s.AddProblemDetails(o => o.CustomizeProblemDetails = c => c.ProblemDetails.Extensions["app"] = "sample-42");
                s.AddSingleton<IRateLimitStore>(sp => new FaultingRateLimitStore(sp.GetRequiredService<TimeProvider>()) { Behavior = FaultingRateLimitStore.Mode.Throw });
                s.AddEmailGuard().AddEndpointPolicies(o =>
                    o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(5)).WithFailureMode(StoreFailureMode.FailClosed)));
            },
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        using HttpResponseMessage response = await app.PostAsync("/signup", "203.0.113.7");

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("app").GetString().Should().Be("sample-42");
        body.RootElement.GetProperty("status").GetInt32().Should().Be(503);
    }

    [Fact]
    public async Task Rejection_NoProblemDetailsService_OwnWriterAnswersWithoutAppExtensions()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        using HttpResponseMessage first = await app.PostAsync("/signup", "203.0.113.7");
        using HttpResponseMessage limited = await app.PostAsync("/signup", "203.0.113.7");

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        using JsonDocument body = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
        body.RootElement.TryGetProperty("traceId", out _).Should().BeFalse();
        body.RootElement.GetProperty("policy").GetString().Should().Be("signup");
    }
}
