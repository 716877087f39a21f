using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An endpoint that takes every method (<c>app.Map</c>, an MVC action without a verb attribute) runs the same handler
/// for PUT, PATCH, DELETE or any other method that carries a body, so a rule written for its POST counts them too.
/// </summary>
public sealed class AnyMethodEndpointPathRuleTests
{
    private const string Ip = "203.0.113.8";

    private static Task<TestApp> StartAsync(Dictionary<string, string?> rules) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(),
        a =>
        {
            a.Map("/api/signup", () => Results.Ok());
            a.MapMethods("/api/profile", [HttpMethods.Post, HttpMethods.Put], () => Results.Ok());
        },
        rules);

    private static async Task<List<HttpStatusCode>> SendAllAsync(TestApp app, params string[] methods)
    {
        List<HttpStatusCode> statuses = [];
        foreach (string method in methods)
        {
            using HttpResponseMessage response = await app.SendAsync(new HttpMethod(method), "/api/signup", Ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task PostRule_OnAnEndpointThatTakesEveryMethod_OtherBodyMethodsCountInItsCounter()
    {
        // Arrange: 2 signups an hour; the endpoint runs the signup for any method.
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/api/signup", limit: 2));

        // Act
        List<HttpStatusCode> statuses = await SendAllAsync(app, "PUT", "PATCH", "DELETE", "SIGNUP", "POST", "post");

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            "every one of them ran the signup, whose limit is 2 an hour");
    }

    [Fact]
    public async Task PostRule_OnAnEndpointThatTakesEveryMethod_SafeMethodsAndTheFallbackUnchanged()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/api/signup", limit: 1, fallback: true));

        // Act: GET and HEAD read (the signup form), OPTIONS and TRACE carry nothing to act on.
        List<HttpStatusCode> safe = await SendAllAsync(app, "GET", "GET", "HEAD", "OPTIONS", "GET");
        List<HttpStatusCode> unsafeMethods = await SendAllAsync(app, "PUT", "POST");

        // Assert
        safe.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the fallback of 100 an hour counts them, not the signup rule");
        unsafeMethods.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PostRule_OnAnMvcActionWithoutAVerbAttribute_OtherBodyMethodsCountInItsCounter()
    {
        // Arrange
        await using TestApp app = await MvcPathRuleApps.StartAsync(
            MvcPathRuleApps.Rules("POST:/verblessaccount/register", limit: 1, fallback: true),
            a => a.MapControllerRoute("default", "{controller=Home}/{action=Index}/{id?}"));

        // Act
        List<HttpStatusCode> statuses = [];
        foreach (string method in (string[])["PUT", "POST", "PATCH", "DELETE"])
        {
            using HttpResponseMessage response = await app.SendAsync(new HttpMethod(method), "/VerblessAccount/Register", Ip);
            statuses.Add(response.StatusCode);
        }

        // Assert
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PutRuleBesidePostRule_OnAnEndpointThatTakesEveryMethod_EachMethodKeepsItsOwnRule()
    {
        // Arrange: an exact rule for the request's own method comes first.
        Dictionary<string, string?> rules = MvcPathRuleApps.Rules("POST:/api/signup", limit: 1);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "PUT:/api/signup";
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "3";
        await using TestApp app = await StartAsync(rules);

        // Act
        List<HttpStatusCode> statuses = await SendAllAsync(app, "PUT", "PUT", "PUT", "PUT", "POST", "POST");

        // Assert
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PolicyForPost_OnAnEndpointThatTakesEveryMethod_OtherActingMethodsCountToo()
    {
        // Arrange: RequireEmailRateLimit("share", "POST") on app.Map, which runs the share for every method.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
            a =>
            {
                a.Map("/api/share", () => Results.Ok()).RequireEmailRateLimit("share", "POST");
                a.MapMethods("/api/either", [HttpMethods.Post, HttpMethods.Put], () => Results.Ok()).RequireEmailRateLimit("share", "POST");
            });

        // Act
        List<HttpStatusCode> statuses = [];
        foreach ((string method, string path) in (ValueTuple<string, string>[])
            [("PUT", "/api/share"), ("POST", "/api/share"), ("PATCH", "/api/share"), ("GET", "/api/share"), ("PUT", "/api/either"), ("PUT", "/api/either")])
        {
            using HttpResponseMessage response = await app.SendAsync(new HttpMethod(method), path, Ip);
            statuses.Add(response.StatusCode);
        }

        // Assert: GET reads; the endpoint that names PUT beside POST keeps PUT out of the policy, as before.
        statuses.Should().Equal(
            HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK);
    }

    [Fact]
    public async Task PostRule_OnAnEndpointThatNamesItsMethods_OtherMethodsNotCounted()
    {
        // Arrange: the endpoint names POST and PUT, so PUT is another operation the rule does not name.
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/api/profile", limit: 1));

        // Act
        using HttpResponseMessage post = await app.SendAsync(HttpMethod.Post, "/api/profile", Ip);
        using HttpResponseMessage put1 = await app.SendAsync(HttpMethod.Put, "/api/profile", Ip);
        using HttpResponseMessage put2 = await app.SendAsync(HttpMethod.Put, "/api/profile", Ip);

        // Assert
        new[] { post.StatusCode, put1.StatusCode, put2.StatusCode }.Should().AllBeEquivalentTo(HttpStatusCode.OK);
    }

    [Fact]
    public async Task PostRule_OnARazorPage_ItsOtherHandlersNotCounted()
    {
        // Arrange: a page names no method in its endpoint, but runs OnDelete and OnPatch for DELETE and PATCH, each a
        // handler of its own, not the OnPost the rule names (a method without a handler only renders the page).
        await using TestApp app = await RazorPages.RazorPagePathRuleTests.StartAsync(MvcPathRuleApps.Rules("POST:/preferences", limit: 1));

        // Act
        List<HttpStatusCode> statuses = [];
        foreach (string method in (string[])["POST", "DELETE", "PATCH", "DELETE", "POST"])
        {
            using HttpResponseMessage response = await app.SendAsync(new HttpMethod(method), "/preferences", Ip);
            statuses.Add(response.StatusCode);
        }

        // Assert
        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }
}
