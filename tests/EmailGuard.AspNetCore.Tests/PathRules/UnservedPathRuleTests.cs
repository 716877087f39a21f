using System.Net;
using EmailGuard.AspNetCore.Tests.RazorPages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// An exact path rule that matches no endpoint of the app (a typo, a method the endpoint does not take, a page handler
/// the page does not have) limits nothing, and nothing said so: the operator believed the signup endpoint protected
/// while a bot sent 10,000 signups. Once the app has started, and after each reload, such a rule logs warning 3038 once,
/// with the rule the operator most likely meant; a rule the requests of an endpoint count under never does.
/// </summary>
public sealed class UnservedPathRuleTests
{
    private const int Unserved = 3038;
    private const string Ip = "203.0.113.20";

    private static Task<TestApp> StartMinimalAsync(Dictionary<string, string?> rules, Action<WebApplication>? map = null) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(),
        a =>
        {
            a.MapPost("/api/signup", () => Results.Ok());
            a.MapPost("/api/password/reset", () => Results.Ok());
            a.MapGet("/api/status", () => Results.Ok());
            a.MapPost("/api/tenants/{tenant}/invite", (string tenant) => Results.Ok(tenant));
            map?.Invoke(a);
        },
        rules);

    /// <summary>Path rules from configuration for <paramref name="endpoints"/>, each a limit of 1 an hour.</summary>
    internal static Dictionary<string, string?> Rules(params string[] endpoints)
    {
        var rules = new Dictionary<string, string?>();
        for (int i = 0; i < endpoints.Length; i++)
        {
            rules[$"EmailGuard:Endpoints:PathRules:{i}:Endpoint"] = endpoints[i];
            rules[$"EmailGuard:Endpoints:PathRules:{i}:Limit"] = "1";
            rules[$"EmailGuard:Endpoints:PathRules:{i}:Window"] = "01:00:00";
        }

        return rules;
    }

    /// <summary>A rule on a path no app here serves, written beside the rules a test expects no warning for: it shows the check ran.</summary>
    private const string Control = "POST:/no/such/path";

    private static FakeLogRecord[] Warnings(TestApp app) => [.. app.Logs.GetSnapshot().Where(r => r.Id.Id == Unserved)];

    /// <summary>Only the control rule warned: the check looked at every rule, and found the others served.</summary>
    private static void OnlyTheControlWarned(TestApp app)
        => Warnings(app).Should().ContainSingle().Which.Message.Should().Contain($"'{Control}'");

    [Fact]
    public async Task TypoedRule_MinimalApi_WarnsOnceWithTheRuleItsSettingAndTheServedPath()
    {
        // Arrange, Act: the operator meant /api/signup; the bot's signups were never counted.
        await using TestApp app = await StartMinimalAsync(Rules("POST:/api/singup"));
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/api/signup", "/api/signup");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the rule matches nothing the app serves");
        Warnings(app).Should().ContainSingle().Which.Message.Should()
            .Contain("'POST:/api/singup'")
            .And.Contain("EmailGuard:Endpoints:PathRules:0")
            .And.Contain("limits nothing")
            .And.Contain("Did you mean 'POST:/api/signup'?")
            .And.Contain("without an endpoint");
    }

    [Fact]
    public async Task RulesOnServedPaths_MinimalApi_NoWarning()
    {
        // Arrange, Act: the served paths in any case, with a trailing slash, a route value, a value that folds to the
        // literal (a trailing space), and rules the check leaves alone (wildcards, the fallback, the allowlist).
        Dictionary<string, string?> rules = Rules(
            "POST:/api/signup", "post:/API/Signup/", "*:/api/password/reset", "GET:/api/status",
            "POST:/api/tenants/acme/invite", "POST:/api/tenants/acme /invite", "POST:/nothing/*", "*", Control);
        rules["EmailGuard:Endpoints:PathRuleAllowlist:0"] = "GET:/no-such-path";
        await using TestApp app = await StartMinimalAsync(rules);

        // Assert
        OnlyTheControlWarned(app);
    }

    [Fact]
    public async Task TypoedRule_BesideAFallbackRoute_StillWarns()
    {
        // A single-page app's MapFallbackToFile serves every path; counted as serving, it would hide every typo.
        await using TestApp app = await StartMinimalAsync(Rules("POST:/api/singup", "POST:/api/signup"), a => a.MapFallback(() => Results.Ok()));

        Warnings(app).Should().ContainSingle().Which.Message.Should().Contain("'POST:/api/singup'");
    }

    [Fact]
    public async Task RuleForAMethodTheEndpointDoesNotTake_Warns_NamingTheMethodsItTakes()
    {
        await using TestApp app = await StartMinimalAsync(Rules("POST:/api/status", "GET:/api/signup"));

        FakeLogRecord[] warnings = Warnings(app);

        warnings.Should().HaveCount(2);
        warnings.Should().ContainSingle(r => r.Message.Contains("'POST:/api/status'", StringComparison.Ordinal)).Which.Message.Should()
            .Contain("take GET, not POST").And.Contain("Did you mean 'GET:/api/status'?");
        warnings.Should().ContainSingle(r => r.Message.Contains("'GET:/api/signup'", StringComparison.Ordinal)).Which.Message.Should()
            .Contain("take POST, not GET");
    }

    [Fact]
    public async Task RulesOnEveryRouteOfAnAction_Mvc_NoWarning()
    {
        // The action's four routes, and the route value of another action under both its routes.
        Dictionary<string, string?> rules = Rules(
            "POST:/aliased/signup", "POST:/aliased/register", "POST:/v2/aliased/register", "POST:/aliased/signup/confirm", "POST:/v2/aliased/orgs/acme/invite", Control);
        await using TestApp app = await MvcPathRuleApps.StartAsync(rules, a => a.MapControllers());

        OnlyTheControlWarned(app);
    }

    [Fact]
    public async Task TypoedRule_Mvc_WarnsWithTheActionsRoute()
    {
        await using TestApp app = await MvcPathRuleApps.StartAsync(Rules("POST:/aliased/regsiter"), a => a.MapControllers());

        Warnings(app).Should().ContainSingle().Which.Message.Should().Contain("Did you mean 'POST:/aliased/register'?");
    }

    [Fact]
    public async Task RulesUnderAConventionalRoute_ActionsPathsAndValuesThatFold_NoWarning()
    {
        // The action at its path, under an id, in another case and width: each request there counts under the rule.
        Dictionary<string, string?> rules = Rules(
            "POST:/conventionalaccount/signup", "POST:/ConventionalAccount/Signup/1", "POST:/conventionalaccount/ｓignup", "POST:/conventionalaccount/ confirm", Control);
        await using TestApp app = await MvcPathRuleApps.StartAsync(rules, a => a.MapControllerRoute("default", "{controller=Home}/{action=Index}/{id?}"), views: true);

        OnlyTheControlWarned(app);
    }

    [Fact]
    public async Task TypoedRule_ConventionalRoute_WarnsWithTheActionsPath()
    {
        // The conventional route's template matches any two segments; the action it names does not exist.
        await using TestApp app = await MvcPathRuleApps.StartAsync(
            Rules("POST:/conventionalaccount/singup"), a => a.MapControllerRoute("default", "{controller=Home}/{action=Index}/{id?}"), views: true);

        Warnings(app).Should().ContainSingle().Which.Message.Should().Contain("Did you mean 'POST:/ConventionalAccount/Signup'?");
    }

    [Fact]
    public async Task RulesOnPagesAndTheirHandlers_NoWarning()
    {
        // Pages at their own routes and at routes AddPageRoute added, handlers named in any case, from the query or the
        // route's {handler?} segment.
        Dictionary<string, string?> rules = Rules(
            "POST:/signup", "POST:/register", "POST:/join/spring", "POST:/notify?handler=Confirm", "POST:/alert?handler=confirm",
            "POST:/share?handler=CONFIRM", "POST:/share/confirm", "POST:/send?handler=Confirm", "POST:/account", Control);
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(rules);

        OnlyTheControlWarned(app);
    }

    [Fact]
    public async Task TypoedHandler_Warns_ListingThePagesHandlers()
    {
        // Arrange, Act: OnPostConfirm is what the operator meant; the rule counted nothing.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(Rules("POST:/notify?handler=Confrim"));

        // Assert
        Warnings(app).Should().ContainSingle().Which.Message.Should()
            .Contain("'POST:/notify?handler=Confrim'")
            .And.Contain("/Notify has no POST handler named Confrim (OnPostConfrim)")
            .And.Contain("its POST handlers are named Confirm")
            .And.Contain("Did you mean 'POST:/notify?handler=Confirm'?");
    }

    [Fact]
    public async Task HandlerRule_ForAMethodThePageHasNoHandlerOf_Warns()
    {
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(Rules("GET:/notify?handler=Confirm"));

        Warnings(app).Should().ContainSingle().Which.Message.Should().Contain("has no GET handler named Confirm").And.Contain("it has no named GET handler");
    }

    [Fact]
    public async Task HandlerRule_OnAPathNoPageServes_Warns()
    {
        // A minimal API at the path has no handlers: the rule binds to pages only, and limited nothing.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(
            Rules("POST:/api/hook?handler=Confirm", "POST:/notfy?handler=Confirm"), a => a.MapPost("/api/hook", () => Results.Ok()));

        FakeLogRecord[] warnings = Warnings(app);

        warnings.Should().HaveCount(2).And.OnlyContain(r => r.Message.Contains("no Razor page serves", StringComparison.Ordinal));
        warnings.Should().ContainSingle(r => r.Message.Contains("Did you mean 'POST:/Notify?handler=Confirm'?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_AddingATypoedRule_WarnsOnce()
    {
        // Arrange
        await using TestApp app = await StartMinimalAsync(Rules("POST:/api/signup", Control));
        OnlyTheControlWarned(app);
        var configuration = (IConfigurationRoot)app.App.Configuration;

        // Act: a typo'd rule arrives by reload, and the configuration reloads twice more.
        configuration["EmailGuard:Endpoints:PathRules:2:Endpoint"] = "POST:/api/password/rest";
        configuration["EmailGuard:Endpoints:PathRules:2:Limit"] = "1";
        configuration.Reload();
        configuration.Reload();
        configuration["EmailGuard:Endpoints:PathRules:0:Limit"] = "2";
        configuration.Reload();

        // Assert: the control rule warned at start, and not again at each reload.
        FakeLogRecord[] warnings = Warnings(app);
        warnings.Should().HaveCount(2);
        warnings.Should().ContainSingle(r => r.Message.Contains($"'{Control}'", StringComparison.Ordinal));
        warnings.Should().ContainSingle(r => r.Message.Contains("'POST:/api/password/rest'", StringComparison.Ordinal)).Which.Message.Should()
            .Contain("EmailGuard:Endpoints:PathRules:2").And.Contain("Did you mean 'POST:/api/password/reset'?");
    }

    [Fact]
    public async Task Reload_EndpointsThatCannotBeRead_NeitherThrowsNorWarnsOfTheRules_SaysTheCheckFailed()
    {
        // Arrange: the app's endpoints, as the check reads them, fail to be read after start.
        var source = new FailingEndpointDataSource();
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddSingleton<EndpointDataSource>(source).AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                a.MapPost("/api/signup", () => Results.Ok());
                source.Inner = new CompositeEndpointDataSource(((IEndpointRouteBuilder)a).DataSources);
            },
            Rules("POST:/api/signup"));
        var configuration = (IConfigurationRoot)app.App.Configuration;
        source.Fail = true;

        // Act: the reload's check reads the endpoints inside the configuration's change callback.
        configuration["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/api/password/rest";
        configuration["EmailGuard:Endpoints:PathRules:1:Limit"] = "1";
        Action reload = configuration.Reload;

        // Assert
        reload.Should().NotThrow();
        app.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 206, "the new rules are in force").And.NotContain(r => r.Id.Id == Unserved)
            .And.ContainSingle(r => r.Id.Id == 3041, "the check could not run").Which.Exception.Should().BeOfType<InvalidOperationException>();
        source.Fail = false;
        (await app.PostAllAsync(Ip, "/api/signup", "/api/signup")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task TypoedRule_WrittenTwice_WarnsOnceNamingBothSettings()
    {
        await using TestApp app = await StartMinimalAsync(Rules("POST:/api/singup", "post:/api/singup"));

        Warnings(app).Should().ContainSingle().Which.Message.Should().Contain("EmailGuard:Endpoints:PathRules:0, EmailGuard:Endpoints:PathRules:1");
    }

    [Fact]
    public async Task TypoedRules_AnAppWithThirtyThousandEndpoints_EachWarnsWithThePathItMeant()
    {
        // Arrange: the suggestion is sought among every served path; here 30,000 of them, nearly alike (the time this
        // takes is measured, not asserted: the machine is shared).
        string[] paths = [.. Enumerable.Range(0, 30_000).Select(static i => $"/api/module{i / 100}/resource{i}/items")];
        var source = new FixedEndpointDataSource([.. paths.Select(static p => Route(p, "POST"))]);
        string[] typos = [.. Enumerable.Range(0, 25).Select(static i => $"POST:/api/module{i * 1187 / 100}/resource{i * 1187}/itmes")];

        // Act
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(), a => ((IEndpointRouteBuilder)a).DataSources.Add(source), Rules(typos));

        // Assert
        FakeLogRecord[] warnings = Warnings(app);
        warnings.Should().HaveCount(typos.Length);
        foreach (string typo in typos)
        {
            warnings.Should().ContainSingle(r => r.Message.Contains($"'{typo}'", StringComparison.Ordinal)).Which.Message.Should()
                .Contain($"Did you mean '{typo.Replace("itmes", "items", StringComparison.Ordinal)}'?");
        }
    }

    private static RouteEndpoint Route(string pattern, string method) => new(
        static context => Task.CompletedTask, RoutePatternFactory.Parse(pattern), order: 0, new EndpointMetadataCollection(new HttpMethodMetadata([method])), $"{method} {pattern}");

    private sealed class FixedEndpointDataSource(Endpoint[] endpoints) : EndpointDataSource
    {
        public override IReadOnlyList<Endpoint> Endpoints => endpoints;

        public override IChangeToken GetChangeToken() => NullChangeToken.Singleton;
    }

    private sealed class FailingEndpointDataSource : EndpointDataSource
    {
        public bool Fail { get; set; }

        public EndpointDataSource? Inner { get; set; }

        public override IReadOnlyList<Endpoint> Endpoints => Fail ? throw new InvalidOperationException("The app's endpoints cannot be read.") : Inner?.Endpoints ?? [];

        public override IChangeToken GetChangeToken() => NullChangeToken.Singleton;
    }
}
