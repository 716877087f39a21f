using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// A path rule on one route of an action covers the action's other routes: an MVC action with several attribute routes,
/// or under several controller routes, and a minimal API handler mapped at several paths are one endpoint per route, and
/// a bot sent to the route the rule does not name was unlimited. Another action at a similar path stays outside the rule.
/// </summary>
public sealed class ActionRoutesPathRuleTests
{
    private static Dictionary<string, string?> Rules(string endpoint, int limit, bool fallback = false) => MvcPathRuleApps.Rules(endpoint, limit, fallback);

    private static Task<TestApp> StartMvcAsync(Dictionary<string, string?> configuration) => MvcPathRuleApps.StartAsync(configuration, a => a.MapControllers());

    [Fact]
    public async Task ExactRule_MvcActionWithSeveralRoutes_EveryRouteCountsInTheRulesCounter()
    {
        // Arrange
        await using TestApp app = await StartMvcAsync(Rules("POST:/aliased/signup", limit: 2));
        string[] routes = ["/aliased/signup", "/aliased/register", "/v2/aliased/signup", "/v2/aliased/register"];

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.1", [.. routes, .. routes]);

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 6)],
            "the four paths run one action, and the rule's 2 per hour are the action's");
    }

    [Fact]
    public async Task ExactRule_MvcActionWithSeveralRoutes_AnotherActionAtASimilarPathIsNotCovered()
    {
        // Arrange
        await using TestApp app = await StartMvcAsync(Rules("POST:/aliased/register", limit: 1));
        (await app.PostAllAsync("203.0.113.1", "/aliased/register")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.1", "/aliased/signup/confirm", "/v2/aliased/signup/confirm", "/aliased/signup/confirm");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "confirm is another action, however close its path");
    }

    [Fact]
    public async Task ExactRule_MvcActionWithSeveralRoutes_BesideAFallback_TheOtherRoutesCountInTheExactRule()
    {
        await using TestApp app = await StartMvcAsync(Rules("POST:/aliased/signup", limit: 1, fallback: true));

        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.1", "/aliased/signup", "/v2/aliased/register", "/aliased/register");

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], "the exact rule, not the fallback");
    }

    [Fact]
    public async Task ExactRule_OnARouteValue_TheActionsOtherRouteCountsOnlyTheRulesValue()
    {
        // Arrange
        await using TestApp app = await StartMvcAsync(Rules("POST:/aliased/tenants/acme/invite", limit: 1));
        (await app.PostAllAsync("203.0.113.1", "/aliased/tenants/acme/invite")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> acme = await app.PostAllAsync("203.0.113.1", "/aliased/orgs/acme/invite", "/v2/aliased/orgs/ACME/invite");
        List<HttpStatusCode> globex = await app.PostAllAsync("203.0.113.1", "/aliased/orgs/globex/invite", "/aliased/tenants/globex/invite", "/aliased/orgs/globex/invite");

        // Assert
        acme.Should().Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], "acme's invite at another route of the action");
        globex.Should().AllBeEquivalentTo(HttpStatusCode.OK, "another tenant's invite is not the rule's");
    }

    [Fact]
    public async Task ExactRule_EachRouteWithItsOwnRule_EachRouteKeepsItsOwnCounter()
    {
        // Arrange: a tight rule on the old path, a looser one on the new path of the same action.
        Dictionary<string, string?> rules = Rules("POST:/aliased/signup", limit: 1);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/aliased/register";
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "3";
        await using TestApp app = await StartMvcAsync(rules);

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.1", "/aliased/register", "/aliased/register", "/aliased/register", "/aliased/register", "/aliased/signup");

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK],
            "a route's own rule is its rule; the action's other rule only covers routes without one");
    }

    [Fact]
    public async Task ExactRule_MinimalApiHandlerMappedTwice_BothPathsCountInTheRulesCounter()
    {
        // Arrange
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/signup", Signup);
                a.MapPost("/register", Signup);
                a.MapPost("/signup/confirm", Confirm);
            },
            Rules("POST:/signup", limit: 2));

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync("203.0.113.1", "/register", "/signup", "/register", "/signup");
        List<HttpStatusCode> confirm = await app.PostAllAsync("203.0.113.1", "/signup/confirm", "/signup/confirm", "/signup/confirm");

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
        confirm.Should().AllBeEquivalentTo(HttpStatusCode.OK, "confirm is another handler");
    }

    [Fact]
    public async Task ExactRule_MinimalApiLambdaMappedTwice_OnARouteValue_BothRoutesCountTheRulesValue()
    {
        // Arrange: one lambda that captures nothing, mapped at two routes with the same route value.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                Delegate invite = (string tenant) => Results.Ok(tenant);
                a.MapPost("/invite/{tenant}", invite);
                a.MapPost("/tenants/{tenant}/invite", invite);
            },
            Rules("POST:/invite/acme", limit: 1));

        // Act
        List<HttpStatusCode> acme = await app.PostAllAsync("203.0.113.1", "/tenants/acme/invite", "/tenants/acme/invite", "/invite/acme");
        List<HttpStatusCode> globex = await app.PostAllAsync("203.0.113.1", "/tenants/globex/invite", "/tenants/globex/invite");

        // Assert
        acme.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
        globex.Should().AllBeEquivalentTo(HttpStatusCode.OK, "another tenant's invite is not the rule's");
    }

    [Fact]
    public async Task ExactRule_OneCapturingLambdaMappedPerPath_IsSeveralHandlers_TheOtherPathIsNotCovered()
    {
        // Arrange: a helper maps one lambda per webhook source; it is one method, but each mapping captures its own source.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                MapHook(a, "ses");
                MapHook(a, "mailgun");
            },
            Rules("POST:/hooks/ses", limit: 1));

        // Act
        List<HttpStatusCode> ses = await app.PostAllAsync("203.0.113.1", "/hooks/ses", "/hooks/ses");
        List<HttpStatusCode> mailgun = await app.PostAllAsync("203.0.113.1", "/hooks/mailgun", "/hooks/mailgun", "/hooks/mailgun");

        // Assert
        ses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests]);
        mailgun.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the mailgun hook is another handler, though the same method");
    }

    private static IResult Signup() => Results.Ok();

    private static IResult Confirm() => Results.Ok();

    private static void MapHook(WebApplication app, string source) => app.MapPost("/hooks/" + source, () => Results.Ok(source));
}
