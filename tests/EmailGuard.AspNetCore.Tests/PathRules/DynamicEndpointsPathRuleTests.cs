using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Endpoints that appear after the first request (a plugin that maps routes later, dynamic endpoints, an
/// <see cref="EndpointDataSource"/> whose change token fires) are joined to their action's other routes as the
/// endpoints of the start are: a rule on one route of a handler covers a route added to it later, and the reverse.
/// </summary>
public sealed class DynamicEndpointsPathRuleTests
{
    private const string Ip = "203.0.113.7";

    private static readonly MethodInfo SignupMethod = typeof(DynamicEndpointsPathRuleTests).GetMethod(nameof(Signup), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static Task<TestApp> StartAsync(Dictionary<string, string?> rules, MutableEndpointDataSource source) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(),
        a => ((IEndpointRouteBuilder)a).DataSources.Add(source),
        rules);

    [Fact]
    public async Task ExactRule_ARouteAddedToTheRulesHandlerAfterTheFirstRequest_CountsInTheRulesCounter()
    {
        // Arrange
        var source = new MutableEndpointDataSource(Post("/signup"));
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/signup", limit: 2), source);
        (await app.PostAllAsync(Ip, "/signup")).Should().Equal(HttpStatusCode.OK);

        // Act
        source.Set(source.Endpoints[0], Post("/register"));
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/register", "/register", "/signup");

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
    }

    [Fact]
    public async Task ExactRule_OnARouteAddedAfterTheFirstRequest_TheHandlersEarlierRouteCountsToo()
    {
        // Arrange: the rule names a path the app maps only later; the handler's first route was reached before that.
        var source = new MutableEndpointDataSource(Post("/signup"));
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/register", limit: 1), source);
        (await app.PostAllAsync(Ip, "/signup", "/signup")).Should().AllBeEquivalentTo(HttpStatusCode.OK, "no route of the handler has a rule yet");

        // Act
        source.Set(source.Endpoints[0], Post("/register"));
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/signup", "/signup", "/register");

        // Assert
        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], "/register is now a route of the handler");
    }

    [Fact]
    public async Task ExactRule_TheRulesRouteRemovedLater_TheHandlersOtherRouteIsNoLongerCovered()
    {
        // Arrange
        RouteEndpoint signup = Post("/signup");
        var source = new MutableEndpointDataSource(signup, Post("/register"));
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/register", limit: 1), source);
        (await app.PostAllAsync(Ip, "/signup", "/signup")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);

        // Act
        source.Set(signup);
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/signup", "/signup");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the rule follows the routes the app has now, as routing does");
    }

    [Fact]
    public async Task ExactRule_ManyConcurrentRequestsWhileTheEndpointsKeepChanging_AdmitExactlyTheLimit()
    {
        // Arrange: the first request binds /signup alone; then /register (the rule's path) joins the handler, and the
        // data source keeps firing its change token while 200 requests race the rebinding.
        const int Limit = 25;
        const int Requests = 200;
        RouteEndpoint signup = Post("/signup");
        RouteEndpoint register = Post("/register");
        var source = new MutableEndpointDataSource(signup);
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/register", limit: Limit), source);
        (await app.PostAllAsync(Ip, "/signup")).Should().Equal(HttpStatusCode.OK);
        source.Set(signup, register);

        // Act
        using var stop = new CancellationTokenSource();
        var churning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int changes = 0;
        Task churn = Task.Run(async () =>
        {
            do
            {
                source.Set(signup, register);
                changes++;
                churning.TrySetResult();
                await Task.Yield();
            }
            while (!stop.IsCancellationRequested && changes < 1000);
        });
        await churning.Task;
        HttpStatusCode[] statuses = await Task.WhenAll(Enumerable.Range(0, Requests).Select(async _ =>
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", Ip);
            return response.StatusCode;
        }));
        await stop.CancelAsync();
        await churn;

        // Assert
        changes.Should().BePositive();
        statuses.Count(s => s == HttpStatusCode.OK).Should().Be(Limit);
        statuses.Count(s => s == HttpStatusCode.TooManyRequests).Should().Be(Requests - Limit);
    }

    private static IResult Signup() => Results.Ok();

    /// <summary>A POST endpoint at <paramref name="pattern"/> run by <see cref="Signup"/>, as a minimal API maps it.</summary>
    private static RouteEndpoint Post(string pattern) => new(
        context => Signup().ExecuteAsync(context),
        RoutePatternFactory.Parse(pattern),
        order: 0,
        new EndpointMetadataCollection(SignupMethod, new HttpMethodMetadata(["POST"])),
        "POST " + pattern);
}
