using System.Net;
using EmailGuard;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>A server answers HEAD by running the GET handler, so HEAD spends what GET spends.</summary>
public sealed class HeadRequestTests
{
    private static Task<TestApp> StartAsync(params string[] rules)
    {
        var configuration = new Dictionary<string, string?>();
        for (int i = 0; i < rules.Length; i++)
        {
            configuration[$"EmailGuard:Endpoints:PathRules:{i}:Endpoint"] = rules[i];
            configuration[$"EmailGuard:Endpoints:PathRules:{i}:Limit"] = "2";
            configuration[$"EmailGuard:Endpoints:PathRules:{i}:Window"] = "01:00:00";
        }

        configuration["EmailGuard:Endpoints:PathRuleAllowlist:0"] = "GET:/health";
        return TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapMethods("/mailbox", [HttpMethods.Get, HttpMethods.Head], () => Results.Ok());
                a.MapMethods("/health", [HttpMethods.Get, HttpMethods.Head], () => Results.Ok());
                a.MapMethods("/webhook", [HttpMethods.Post, HttpMethods.Head], () => Results.Ok());
            },
            configuration);
    }

    private static async Task<List<HttpStatusCode>> SendAsync(TestApp app, string path, params HttpMethod[] methods)
    {
        var statuses = new List<HttpStatusCode>();
        foreach (HttpMethod method in methods)
        {
            using HttpResponseMessage response = await app.SendAsync(method, path, "203.0.113.1");
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    [Fact]
    public async Task GetPathRule_HeadRequests_CountedWithGet()
    {
        await using TestApp app = await StartAsync("GET:/mailbox");

        List<HttpStatusCode> statuses = await SendAsync(app, "/mailbox", HttpMethod.Head, HttpMethod.Get, HttpMethod.Head, HttpMethod.Get);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task HeadOnly_FloodAgainstGetRule_Limited()
    {
        await using TestApp app = await StartAsync("GET:/mailbox");

        List<HttpStatusCode> statuses = await SendAsync(app, "/mailbox", [.. Enumerable.Repeat(HttpMethod.Head, 5)]);

        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(2);
    }

    [Fact]
    public async Task HeadRuleAfterGetRule_HeadRequests_FollowTheHeadRule()
    {
        var configuration = new Dictionary<string, string?>
        {
            ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "GET:/mailbox",
            ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
            ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
            ["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "HEAD:/mailbox",
            ["EmailGuard:Endpoints:PathRules:1:Limit"] = "3",
            ["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00",
        };
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapMethods("/mailbox", [HttpMethods.Get, HttpMethods.Head], () => Results.Ok()),
            configuration);

        List<HttpStatusCode> heads = await SendAsync(app, "/mailbox", [.. Enumerable.Repeat(HttpMethod.Head, 4)]);
        List<HttpStatusCode> gets = await SendAsync(app, "/mailbox", HttpMethod.Get, HttpMethod.Get);

        heads.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        gets.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PostPathRule_HeadRequest_NotCovered()
    {
        await using TestApp app = await StartAsync("POST:/webhook");

        List<HttpStatusCode> statuses = await SendAsync(app, "/webhook", [.. Enumerable.Repeat(HttpMethod.Head, 4)]);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task GetAllowlist_HeadRequest_AlsoExempt()
    {
        await using TestApp app = await StartAsync("*");

        List<HttpStatusCode> statuses = await SendAsync(app, "/health", [.. Enumerable.Repeat(HttpMethod.Head, 4)]);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
    }

    [Fact]
    public async Task RazorPage_GetPathRuleCountsHead_PagePolicyNeverCountsViewing()
    {
        await using TestApp ruled = await BindingApp.StartAsync(
            p => p.PerField("email", RateLimitRule.PerDay(100)).WhenFieldMissing(MissingFieldBehavior.Skip),
            configure: o => o.PathRules.Add(new EmailGuardPathRule { Endpoint = "GET:/Binding/Form", Limit = 2, Window = TimeSpan.FromHours(1) }));
        await using TestApp policed = await BindingApp.StartAsync(p => p.PerClientIp(RateLimitRule.PerHour(2)));

        List<HttpStatusCode> byRule = await SendAsync(ruled, "/Binding/Form", HttpMethod.Head, HttpMethod.Head, HttpMethod.Get);
        List<HttpStatusCode> byPolicy = await SendAsync(policed, "/Binding/Form", HttpMethod.Get, HttpMethod.Head, HttpMethod.Head);

        byRule.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);

        // A policy on a whole page covers the methods that change something, never GET or its HEAD: viewing a form
        // spends no quota (a handler-bound policy on OnGet would count both; see RazorPagesHandlerTests).
        byPolicy.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK);
    }
}
