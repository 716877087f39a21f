using System.Net;
using System.Text.Json;
using EmailGuard.AspNetCore.Tests.RazorPages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Challenge mode through minimal APIs, MVC and Razor Pages. The stand-in CAPTCHA check is app middleware that runs
/// before <c>UseEmailGuard()</c> and sets the feature when the request carries the token "solved".
/// </summary>
public sealed class ChallengeTests
{
    private const string Ip = "203.0.113.5";
    private const string TokenHeader = "X-Test-Captcha-Token";

    private static Task<TestApp> StartAsync(Action<IServiceCollection> services, Action<WebApplication> map)
        => TestApp.StartAsync(
            s =>
            {
                services(s);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                {
                    o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(2)).RequireChallenge());
                    o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(2)).RequireChallenge());
                    o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(2)).RequireChallenge());
                    o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(2)).RequireChallenge());
                });
            },
            a =>
            {
                a.Use((context, next) =>
                {
                    if (context.Request.Headers[TokenHeader] == "solved")
                    {
                        context.Features.Set<IEmailGuardChallengeFeature>(new EmailGuardChallengeFeature(passed: true));
                    }

                    return next(context);
                });
                a.UseEmailGuard();
                map(a);
            },
            useEmailGuard: false);

    private static async Task<HttpResponseMessage> SendAsync(TestApp app, string path, string? token = null, string? forgedHeader = null)
    {
        using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, path, Ip);
        if (token is not null)
        {
            request.Headers.Add(TokenHeader, token);
        }

        if (forgedHeader is not null)
        {
            request.Headers.Add(forgedHeader, "true");
        }

        return await app.Client.SendAsync(request);
    }

    public static TheoryData<string> Apps => new() { "minimal", "mvc", "razor" };

    private static Task<TestApp> StartAppAsync(string kind) => kind switch
    {
        "minimal" => StartAsync(_ => { }, a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup")),
        "mvc" => StartAsync(s => s.AddControllers().AddApplicationPart(typeof(MailController).Assembly), a => a.MapControllers()),
        _ => StartAsync(
            s => s.AddRazorPages(o => o.RootDirectory = "/RazorPages/Pages")
                .AddApplicationPart(typeof(FormsModel).Assembly)
                .AddRazorPagesOptions(o => o.Conventions.ConfigureFilter(new IgnoreAntiforgeryTokenAttribute())),
            a => a.MapRazorPages()),
    };

    private static string PathOf(string kind) => kind switch
    {
        "minimal" => "/signup",
        "mvc" => "/mvc/mail/share",
        _ => "/Forms",
    };

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task RequiredChallenge_NotPassed_403ChallengeRequired(string kind)
    {
        await using TestApp app = await StartAppAsync(kind);

        using HttpResponseMessage response = await SendAsync(app, PathOf(kind));

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using JsonDocument body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("type").GetString().Should().Be("https://emailguard.dev/problems/challenge-required");
        body.RootElement.GetProperty("status").GetInt32().Should().Be(403);
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task RequiredChallenge_Passed_AdmittedAndStillLimited(string kind)
    {
        await using TestApp app = await StartAppAsync(kind);

        using HttpResponseMessage first = await SendAsync(app, PathOf(kind), token: "solved");
        using HttpResponseMessage second = await SendAsync(app, PathOf(kind), token: "solved");
        using HttpResponseMessage third = await SendAsync(app, PathOf(kind), token: "solved");

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        second.StatusCode.Should().Be(HttpStatusCode.OK);
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "a passed challenge admits past the challenge, not past the limits");
    }

    [Theory]
    [InlineData("X-EmailGuard-Challenge")]
    [InlineData("X-Challenge-Passed")]
    [InlineData("IEmailGuardChallengeFeature")]
    public async Task ForgedHeader_DoesNotPassTheChallenge(string header)
    {
        await using TestApp app = await StartAppAsync("minimal");

        using HttpResponseMessage response = await SendAsync(app, "/signup", token: "guessed", forgedHeader: header);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task ChallengeRequired_OnRejectedSet_AppRendersItsOwnAnswer()
    {
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.OnRejected = async c =>
                {
                    if (c.IsChallengeRequired)
                    {
                        c.HttpContext.Response.ContentType = "text/html";
                        await c.HttpContext.Response.WriteAsync("<form id=captcha></form>");
                    }
                };
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(2)).RequireChallenge());
            }),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

        using HttpResponseMessage response = await app.PostAsync("/signup", Ip);

        response.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await response.Content.ReadAsStringAsync()).Should().Be("<form id=captcha></form>");
    }
}
