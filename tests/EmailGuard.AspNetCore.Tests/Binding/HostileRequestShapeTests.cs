using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Request shapes that change what the endpoint binds, or which method it runs as, after the point where the guard
/// looks: a method override, a compressed body, multipart parts written unusually. Each app mails the address it binds;
/// an attacker paid per delivered mail must not get the victim mailed more often than the limit of 1, and nothing
/// answers 5xx.
/// </summary>
public sealed partial class HostileRequestShapeTests
{
    private const string Victim = BindingApp.Victim;
    private const string Ip = "203.0.113.9";

    private static string VictimJson => $"{{\"email\":\"{Victim}\"}}";

    /// <summary>
    /// An app that mails the bound address at <c>/api/invite</c> (POST only, limited by a path rule per client IP),
    /// <c>/api/share</c> (POST only, a field policy scoped to POST) and <c>/api/any</c> (every method, a path rule).
    /// <paramref name="pipeline"/> places the middleware under test around <c>UseEmailGuard()</c>, after routing.
    /// </summary>
    private static Task<TestApp> StartAsync(Action<IServiceCollection> services, Action<WebApplication> pipeline)
        => TestApp.StartAsync(
            s =>
            {
                s.AddSingleton<BoundValues>();
                s.AddCors(o => o.AddPolicy("any", p => p.AllowAnyOrigin().AllowAnyMethod().AllowAnyHeader()));
                services(s);
                s.AddEmailGuard().AddEndpointPolicies(o =>
                    o.AddPolicy("share", p => p.PerField("email", RateLimitRule.PerHour(1))));
            },
            app =>
            {
                pipeline(app);
                BoundValues bound = app.Services.GetRequiredService<BoundValues>();
                app.MapPost("/api/invite", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
                app.MapPost("/api/invite-form", ([FromForm] string email) => Mail(bound, email)).DisableAntiforgery();
                app.MapPost("/api/share", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email)).RequireEmailRateLimit("share", "POST");
                app.MapPost("/api/share-form", ([FromForm] string email) => Mail(bound, email)).RequireEmailRateLimit("share", "POST").DisableAntiforgery();
                app.Map("/api/any", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
                app.MapPost("/api/cors", (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email)).RequireCors("any");
                app.MapMethods("/api/multi", [HttpMethods.Put, HttpMethods.Post], (BodyFieldTests.ResetRequest body) => Mail(bound, body.Email));
            },
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/invite",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/api/invite-form",
                ["EmailGuard:Endpoints:PathRules:1:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:2:Endpoint"] = "POST:/api/any",
                ["EmailGuard:Endpoints:PathRules:2:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:2:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:3:Endpoint"] = "POST:/api/cors",
                ["EmailGuard:Endpoints:PathRules:3:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:3:Window"] = "01:00:00",
                ["EmailGuard:Endpoints:PathRules:4:Endpoint"] = "POST:/api/multi",
                ["EmailGuard:Endpoints:PathRules:4:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:4:Window"] = "01:00:00",
            },
            useEmailGuard: false);

    private static IResult Mail(BoundValues bound, string? email)
    {
        bound.Add(email);
        return Results.Ok(email);
    }

    private static async Task<List<HttpStatusCode>> SendAsync(TestApp app, string path, int attempts, Func<int, HttpContent> body, Action<HttpRequestMessage, int>? shape = null)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < attempts; i++)
        {
            using HttpRequestMessage request = TestApp.Request(HttpMethod.Post, path, Ip, body(i));
            shape?.Invoke(request, i);
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    public static TheoryData<string> OverrideMethods => new() { "GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "SIGNUP" };

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterRouting_PostPathRuleStillCounts(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/invite", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3053).Should().ContainSingle("the misplaced override is logged once")
            .Which.Message.Should().Contain($"'{method}'").And.Contain("'POST'").And.Contain("UseHttpMethodOverride()");
    }

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterRouting_PolicyScopedToPostStillCounts(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/share", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [InlineData("/api/invite-form")]
    [InlineData("/api/share-form")]
    public async Task MethodOverrideFormField_AfterRouting_StillCounts(string path)
    {
        await using TestApp app = await StartAsync(_ => { },
            a => { a.UseHttpMethodOverride(new HttpMethodOverrideOptions { FormFieldName = "_method" }); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, path, 4,
            i => BindingContent.Form((i == 0 ? "" : "_method=GET&") + "email=" + Uri.EscapeDataString(Victim)));

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    /// <summary>
    /// A preflight is sent to the endpoint of the method it asks for, so a POST rewritten into one after <c>UseCors()</c>
    /// passed as a preflight would have run the POST handler as OPTIONS. An honest preflight is answered by <c>UseCors()</c>
    /// before the guard and counts nothing.
    /// </summary>
    [Fact]
    public async Task MethodOverrideToAPreflight_AfterCors_CountsAsThePost()
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseCors(); a.UseHttpMethodOverride(); a.UseEmailGuard(); });
        using HttpRequestMessage preflight = TestApp.Request(HttpMethod.Options, "/api/cors", Ip);
        preflight.Headers.Add("Origin", "https://app.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using HttpResponseMessage answered = await app.Client.SendAsync(preflight);

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/cors", 3, _ => BindingContent.Json(VictimJson), (r, i) =>
        {
            r.Headers.Add("Origin", "https://app.example");
            if (i > 0)
            {
                r.Headers.Add("X-HTTP-Method-Override", "OPTIONS");
                r.Headers.Add("Access-Control-Request-Method", "POST");
            }
        });

        answered.StatusCode.Should().Be(HttpStatusCode.NoContent);
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Fact]
    public async Task PreflightReachingTheGuard_BeforeCors_DecidedAsTheMethodItAsksForWithoutWarning()
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseCors(); });

        List<HttpStatusCode> statuses = [];
        foreach (HttpMethod method in (HttpMethod[])[HttpMethod.Options, HttpMethod.Post])
        {
            using HttpRequestMessage request = TestApp.Request(method, "/api/cors", Ip, method == HttpMethod.Post ? BindingContent.Json(VictimJson) : null);
            request.Headers.Add("Origin", "https://app.example");
            request.Headers.Add("Access-Control-Request-Method", "POST");
            using HttpResponseMessage response = await app.Client.SendAsync(request);
            statuses.Add(response.StatusCode);
        }

        statuses.Should().Equal([HttpStatusCode.NoContent, HttpStatusCode.TooManyRequests],
            "routing sent the preflight to the POST endpoint, which would have run its handler had UseCors() not answered; call UseCors() before UseEmailGuard()");
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3053, "no middleware rewrote the method");
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("DELETE")]
    public async Task MethodOverrideHeader_AfterRouting_OnAnEndpointOfSeveralMethods_CountsAsThePost(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/multi", 3, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [MemberData(nameof(OverrideMethods))]
    public async Task MethodOverrideHeader_AfterTheGuard_CountsAsThePost(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseHttpMethodOverride(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/invite", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    public async Task MethodOverrideHeader_OnAnEndpointThatTakesEveryMethod_CountsUnderThePostRule(string method)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseHttpMethodOverride(); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/any", 4, _ => BindingContent.Json(VictimJson),
            (r, i) => { if (i > 0) { r.Headers.Add("X-HTTP-Method-Override", method); } });

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
    }
}
