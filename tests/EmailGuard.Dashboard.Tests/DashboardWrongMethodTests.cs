using System.Net;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// A request to a dashboard path with a method it does not take: routing answered 405 before authorization ran, so an
/// anonymous visitor learnt which action endpoints exist. Now authorization answers first, whatever the method, and an
/// authorized user still gets the 405. A path the dashboard does not have stays routing's 404, for everyone: a catch-all
/// under the prefix would also answer for the paths an app maps beside it (its feedback webhooks under
/// <c>/emailguard/feedback</c>) when they are not mapped, and the dashboard's prefix is no secret (its own pages answer 401).
/// </summary>
public sealed class DashboardWrongMethodTests
{
    public static TheoryData<string, string> WrongMethodsAndUnknownPaths => new()
    {
        { "GET", "/emailguard/lists/add" },
        { "PUT", "/emailguard/lists/remove" },
        { "DELETE", "/emailguard/flags/clear" },
        { "GET", "/emailguard/flags/apply" },
        { "GET", "/emailguard/tenants/limits/reload" },
        { "POST", "/emailguard/lists" },
        { "DELETE", "/emailguard/" },
    };

    [Theory]
    [MemberData(nameof(WrongMethodsAndUnknownPaths))]
    public async Task Anonymous_AnyMethodOrPath_IsAnsweredAsAuthorizationAnswers(string method, string path)
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        using HttpClient anonymous = host.Client(user: null, roles: null);
        using HttpClient support = host.Client(user: "mallory", roles: "support");

        (await SendAsync(anonymous, method, path)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await SendAsync(support, method, path)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Anonymous_PathTheDashboardDoesNotHave_Is404AsWithoutTheDashboard()
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        using HttpClient anonymous = host.Client(user: null, roles: null);

        (await SendAsync(anonymous, "POST", "/emailguard/feedback/mailgun")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Operator_WrongMethod_Is405WithAllow_UnknownPathIs404_AndThePagesAndActionsStillAnswer()
    {
        await using DashboardHost host = await DashboardHost.StartAsync();
        using HttpClient admin = host.Client();

        using HttpResponseMessage getAction = await SendAsync(admin, "GET", "/emailguard/lists/add");
        using HttpResponseMessage postPage = await SendAsync(admin, "POST", "/emailguard/lists");

        getAction.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        getAction.Content.Headers.Allow.Should().Equal("POST");
        postPage.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        postPage.Content.Headers.Allow.Should().Equal("GET");
        (await SendAsync(admin, "GET", "/emailguard/no-such-page")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await SendAsync(admin, "GET", "/emailguard/lists")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await SendAsync(admin, "GET", "/emailguard")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await SendAsync(admin, "POST", "/emailguard/lists/add")).StatusCode.Should().Be(HttpStatusCode.BadRequest, "the action itself still takes the post (and refuses it without a token)");
    }

    [Fact]
    public async Task Viewer_WrongMethodOnAnAction_IsAnsweredAsTheActionsPolicyAnswers()
    {
        await using DashboardHost host = await DashboardHost.StartAsync(dashboard: o => o.ActionsAuthorizationPolicy = "ops-actions");
        using HttpClient viewer = host.Client(roles: "ops");
        using HttpClient admin = host.Client(roles: "ops,admin");

        (await SendAsync(viewer, "GET", "/emailguard/lists/add")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await SendAsync(viewer, "POST", "/emailguard/flags")).StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        (await SendAsync(admin, "GET", "/emailguard/lists/add")).StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path)
    {
        using HttpRequestMessage request = new(new HttpMethod(method), path);
        if (method is "POST" or "PUT")
        {
            request.Content = new FormUrlEncodedContent([new("value", "x@example.com")]);
        }

        return await client.SendAsync(request);
    }
}
