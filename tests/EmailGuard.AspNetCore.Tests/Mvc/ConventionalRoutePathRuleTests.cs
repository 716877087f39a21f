using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A path rule on a path that a route with parameters serves under other paths too: MVC's conventional route serves
/// <c>/conventionalaccount/signup</c> at <c>/conventionalaccount/signup/{id}</c> for any id, and a route with an optional
/// segment serves its path with and without it. Each such path is the rule's endpoint with the rule's route values.
/// </summary>
public sealed class ConventionalRoutePathRuleTests
{
    private static Dictionary<string, string?> Rules(string endpoint, bool fallback = false) => MvcPathRuleApps.Rules(endpoint, fallback: fallback);

    private static Task<TestApp> StartMvcAsync(Dictionary<string, string?> configuration)
        => MvcPathRuleApps.StartAsync(configuration, a => a.MapControllerRoute("default", "{controller=Home}/{action=Index}/{id?}"), views: true);

    private static async Task<HttpStatusCode> PostAsync(TestApp app, string path)
    {
        using HttpResponseMessage response = await app.PostAsync(path, "203.0.113.1");
        return response.StatusCode;
    }

    [Theory]
    [InlineData("/ConventionalAccount/Signup/1")]
    [InlineData("/conventionalaccount/signup/x/")]
    public async Task ExactRule_ConventionalRoute_TheActionUnderAnId_CountsInTheRulesCounter(string path)
    {
        // Arrange
        await using TestApp app = await StartMvcAsync(Rules("POST:/conventionalaccount/signup"));
        (await PostAsync(app, "/conventionalaccount/signup")).Should().Be(HttpStatusCode.OK);

        // Act
        HttpStatusCode status = await PostAsync(app, path);

        // Assert
        status.Should().Be(HttpStatusCode.TooManyRequests, "the conventional route runs the same action for any id");
    }

    [Fact]
    public async Task ExactRule_ConventionalRouteBesideAFallback_TheActionUnderAnIdCountsInTheExactRule()
    {
        await using TestApp app = await StartMvcAsync(Rules("POST:/conventionalaccount/signup", fallback: true));
        (await PostAsync(app, "/conventionalaccount/signup")).Should().Be(HttpStatusCode.OK);

        (await PostAsync(app, "/ConventionalAccount/Signup/2")).Should().Be(HttpStatusCode.TooManyRequests, "the exact rule, not the fallback");
    }

    [Fact]
    public async Task ExactRule_OnARouteValue_OptionalSegmentAddsNothingNew_AndAnotherValueIsNotTheRules()
    {
        // Arrange
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a => a.MapPost("/api/tenants/{tenant}/invite/{page?}", (string tenant) => Results.Ok(tenant)),
            Rules("POST:/api/tenants/acme/invite"));
        (await PostAsync(app, "/api/tenants/acme/invite")).Should().Be(HttpStatusCode.OK);

        // Act
        HttpStatusCode samePage = await PostAsync(app, "/api/tenants/acme/invite/2");
        HttpStatusCode otherTenant = await PostAsync(app, "/api/tenants/globex/invite/2");

        // Assert
        samePage.Should().Be(HttpStatusCode.TooManyRequests, "acme's invite, with a page the rule's path leaves out");
        otherTenant.Should().Be(HttpStatusCode.OK, "another tenant's invite is not the rule's");
    }
}
