using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// Endpoints can be mapped after the app started (a dynamic data source, a module loaded late). Warning 3038 was
/// decided once, at start: a rule on such a route warned that it limited nothing while it limited the route, a false
/// alarm that teaches operators to ignore the warning, and a rule whose endpoint went away later said nothing. The check
/// now runs again when the endpoints change: a rule that warned and is served now logs 3040 once, a rule newly unserved
/// warns 3038 then, and a rule that warned and is still unserved does not warn again.
/// </summary>
public sealed class UnservedPathRuleEndpointChangeTests
{
    private const int Unserved = 3038;
    private const int NowServed = 3040;
    private const int CheckFailed = 3041;
    private const string Ip = "203.0.113.21";

    /// <summary>A rule on a path no app here ever serves: it warned at start, and must not warn again.</summary>
    private const string Control = "POST:/no/such/path";

    private static Task<TestApp> StartAsync(MutableEndpointDataSource source, params string[] rules) => TestApp.StartAsync(
        s => s.AddEmailGuard().AddEndpointPolicies(),
        a => ((IEndpointRouteBuilder)a).DataSources.Add(source),
        Rules(rules));

    [Fact]
    public async Task RouteMappedAfterStart_TheRuleThatWarned_LogsOnceThatItNowMatches()
    {
        // Arrange: the module that serves /api/late is loaded after the app started.
        var source = new MutableEndpointDataSource(Post("/api/early"));
        await using TestApp app = await StartAsync(source, "POST:/api/late", Control);
        Logs(app, Unserved).Should().HaveCount(2);

        // Act: the route is mapped; then the endpoints change twice more.
        source.Set(Post("/api/early"), Post("/api/late"));
        source.Set(Post("/api/early"), Post("/api/late"), Post("/api/later"));
        source.Set(Post("/api/early"), Post("/api/late"), Post("/api/later"));

        // Assert: said once, at Information, with the setting; neither rule warned again; the rule limits the route.
        Logs(app, NowServed).Should().ContainSingle().Which.Should().Match<FakeLogRecord>(r => r.Level == LogLevel.Information
            && r.Message.Contains("'POST:/api/late' (EmailGuard:Endpoints:PathRules:0)", StringComparison.Ordinal) && r.Message.Contains("now matches", StringComparison.Ordinal));
        Logs(app, Unserved).Should().HaveCount(2);
        (await app.PostAllAsync(Ip, "/api/late", "/api/late")).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task EndpointRemovedAfterStart_TheRuleWarnsThen_OnceWhileUnserved_AndAgainAfterItWasServedInBetween()
    {
        // Arrange
        var source = new MutableEndpointDataSource(Post("/api/signup"), Post("/api/other"));
        await using TestApp app = await StartAsync(source, "POST:/api/signup", Control);
        Logs(app, Unserved).Should().ContainSingle().Which.Message.Should().Contain($"'{Control}'");

        // Act, Assert: the module that served /api/signup goes away; the endpoints change again without it.
        source.Set(Post("/api/other"));
        source.Set(Post("/api/other"), Post("/api/more"));
        Logs(app, Unserved).Should().HaveCount(2).And.ContainSingle(r => r.Message.Contains("'POST:/api/signup'", StringComparison.Ordinal));

        // Act, Assert: back, then gone again: each change of state is said once.
        source.Set(Post("/api/signup"));
        Logs(app, NowServed).Should().ContainSingle().Which.Message.Should().Contain("'POST:/api/signup'");
        source.Set(Post("/api/other"));
        Logs(app, Unserved).Where(r => r.Message.Contains("'POST:/api/signup'", StringComparison.Ordinal)).Should().HaveCount(2);
        Logs(app, Unserved).Should().HaveCount(3, "the control rule, unserved throughout, warned at start only");
        Logs(app, NowServed).Should().ContainSingle();
    }

    [Fact]
    public async Task EndpointsChange_TheirEndpointsCannotBeRead_NothingThrowsToTheChanger_LoggedAndTheWatchGoesOn()
    {
        // Arrange: the app's endpoints, as the check reads them, come from a source that fails to be read for a while.
        var source = new MutableEndpointDataSource(Post("/api/other"));
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddSingleton<EndpointDataSource>(source).AddEmailGuard().AddEndpointPolicies(), _ => { }, Rules("POST:/api/late"));
        Logs(app, Unserved).Should().ContainSingle();
        source.Fail = true;

        // Act: the change callback reads the endpoints on the thread that changed them.
        Action change = () => source.Set(Post("/api/other"), Post("/api/late"));

        // Assert
        change.Should().NotThrow();
        Logs(app, CheckFailed).Should().ContainSingle().Which.Should().Match<FakeLogRecord>(r => r.Level == LogLevel.Warning && r.Exception is InvalidOperationException);
        Logs(app, NowServed).Should().BeEmpty();

        // Act, Assert: readable again, the next change is looked at.
        source.Fail = false;
        source.Set(Post("/api/other"), Post("/api/late"));
        Logs(app, NowServed).Should().ContainSingle().Which.Message.Should().Contain("'POST:/api/late'");
        Logs(app, Unserved).Should().ContainSingle();
    }

    [Fact]
    public async Task ReloadsAndEndpointChanges_ManyAtOnce_EachRuleAlternatesBetweenUnservedAndNowServed()
    {
        // Arrange
        var source = new MutableEndpointDataSource(Post("/api/other"));
        await using TestApp app = await StartAsync(source, "POST:/api/late", Control);
        var configuration = (IConfigurationRoot)app.App.Configuration;

        // Act: reloads (each looks at the rules again) and changes that map the rule's route and take it away again,
        // from many threads at once; then the route is mapped for good.
        using var start = new Barrier(8);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            start.SignalAndWait();
            for (int n = 0; n < 15; n++)
            {
                if (i % 2 == 0)
                {
                    configuration.Reload();
                }
                else
                {
                    source.Set(n % 2 == 0 ? [Post("/api/other"), Post("/api/late")] : [Post("/api/other")]);
                }
            }
        })));
        source.Set(Post("/api/other"), Post("/api/late"));

        // Assert: every change of the rule's state said once, in order (never "now served" twice in a row, nor the
        // warning), ending with the route mapped; the control rule warned once.
        int[] said = [.. app.Logs.GetSnapshot().Where(r => r.Id.Id is Unserved or NowServed && r.Message.Contains("'POST:/api/late'", StringComparison.Ordinal)).Select(static r => r.Id.Id)];
        said.Should().HaveCountGreaterThanOrEqualTo(2);
        said.Select(static (id, n) => id == (n % 2 == 0 ? Unserved : NowServed)).Should().AllBeEquivalentTo(true, "the log is {0}", string.Join(", ", said));
        said[^1].Should().Be(NowServed);
        Logs(app, Unserved).Should().ContainSingle(r => r.Message.Contains($"'{Control}'", StringComparison.Ordinal));
        Logs(app, CheckFailed).Should().BeEmpty();
    }

    private static FakeLogRecord[] Logs(TestApp app, int id) => [.. app.Logs.GetSnapshot().Where(r => r.Id.Id == id)];

    private static Dictionary<string, string?> Rules(params string[] endpoints) => UnservedPathRuleTests.Rules(endpoints);

    private static RouteEndpoint Post(string pattern) => new(
        static context => Results.Ok().ExecuteAsync(context), RoutePatternFactory.Parse(pattern), order: 0, new EndpointMetadataCollection(new HttpMethodMetadata(["POST"])), "POST " + pattern);
}
