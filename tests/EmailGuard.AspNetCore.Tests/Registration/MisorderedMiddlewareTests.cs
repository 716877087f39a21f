using System.Net;
using EmailGuard.AspNetCore.Tests.RazorPages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Registration;

/// <summary>
/// <c>UseEmailGuard()</c> before <c>UseRouting()</c> sees no endpoint, and without <c>UseEmailGuard()</c> nothing applies
/// a policy: an endpoint that requires one then refuses requests with 500 and logs error 2976 once, instead of serving
/// them unlimited. Every way a policy is attached is covered: minimal APIs, route groups, MVC attributes, page handlers.
/// </summary>
public sealed class MisorderedMiddlewareTests
{
    private const string Ip = "203.0.113.7";

    public enum Order
    {
        AfterRouting,
        BeforeRouting,
        Never,
    }

    private static Task<TestApp> StartAsync(Order order, Action<WebApplication> map, Action<IServiceCollection>? services = null) => TestApp.StartAsync(
        s =>
        {
            services?.Invoke(s);
            s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)));
            });
        },
        map,
        useEmailGuard: order != Order.Never,
        useEmailGuardBeforeRouting: order == Order.BeforeRouting);

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task MinimalApi_WithoutTheMiddlewareAfterRouting_RefusesWith500_AndNeverRunsTheEndpoint(Order order)
    {
        int runs = 0;
        await using TestApp app = await StartAsync(order, a => a.MapPost("/signup", () => Results.Text($"sent {++runs}")).RequireEmailRateLimit("signup"));

        List<HttpStatusCode> statuses = await PostManyAsync(app, "/signup", 3);

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        runs.Should().Be(0);
        AssertLoggedOnce(app, "HTTP: POST /signup", "signup");
    }

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task AttributeOnMinimalApiHandler_WithoutTheMiddlewareAfterRouting_RefusesWith500_AndNeverRunsTheEndpoint(Order order)
    {
        int runs = 0;
        await using TestApp app = await StartAsync(order, a =>
        {
            a.MapPost("/share", [EmailRateLimit("share")] () => Results.Text($"shared {++runs}"));
            a.MapPost("/preview", [DisableEmailRateLimit] () => Results.Text("preview"));
            a.MapPost("/plain", () => Results.Text("plain"));
        });

        List<HttpStatusCode> shares = await PostManyAsync(app, "/share", 2);
        using HttpResponseMessage preview = await app.PostAsync("/preview", Ip);
        using HttpResponseMessage plain = await app.PostAsync("/plain", Ip);

        shares.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        runs.Should().Be(0);
        preview.StatusCode.Should().Be(HttpStatusCode.OK);
        plain.StatusCode.Should().Be(HttpStatusCode.OK);
        AssertLoggedOnce(app, "HTTP: POST /share", "share");
    }

    [Fact]
    public async Task AttributeOnMinimalApiHandler_MiddlewareAfterRouting_LimitsAsBefore()
    {
        await using TestApp app = await StartAsync(Order.AfterRouting, a => a.MapPost("/share", [EmailRateLimit("share")] () => Results.Text("shared")));

        List<HttpStatusCode> shares = await PostManyAsync(app, "/share", 2);

        shares.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2976);
    }

    [Fact]
    public async Task MinimalApi_MiddlewareAfterRouting_LimitsAsBefore()
    {
        int runs = 0;
        await using TestApp app = await StartAsync(Order.AfterRouting, a => a.MapPost("/signup", () => Results.Text($"sent {++runs}")).RequireEmailRateLimit("signup"));

        List<HttpStatusCode> statuses = await PostManyAsync(app, "/signup", 3);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        runs.Should().Be(1);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2976);
    }

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task RouteGroup_WithoutTheMiddlewareAfterRouting_RefusesLimitedRequests_AndServesExemptOnes(Order order)
    {
        int runs = 0;
        await using TestApp app = await StartAsync(order, a =>
        {
            RouteGroupBuilder group = a.MapGroup("/api").RequireEmailRateLimit("share", "POST");
            group.MapMethods("/share", ["GET", "POST"], () => Results.Text($"shared {++runs}"));
            group.MapPost("/preview", () => Results.Text("preview")).DisableEmailRateLimit();
        });

        List<HttpStatusCode> shares = await PostManyAsync(app, "/api/share", 2);
        using HttpResponseMessage view = await app.GetAsync("/api/share", Ip);
        using HttpResponseMessage preview = await app.PostAsync("/api/preview", Ip);

        shares.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        runs.Should().Be(1, "only the GET, which the policy does not cover, ran");
        view.StatusCode.Should().Be(HttpStatusCode.OK);
        preview.StatusCode.Should().Be(HttpStatusCode.OK, "DisableEmailRateLimit exempts the endpoint");
        AssertLoggedOnce(app, "/api/share", "share");
    }

    [Fact]
    public async Task RouteGroup_MiddlewareAfterRouting_LimitsAsBefore()
    {
        await using TestApp app = await StartAsync(Order.AfterRouting, a =>
            a.MapGroup("/api").RequireEmailRateLimit("share").MapPost("/share", () => Results.Text("shared")));

        List<HttpStatusCode> shares = await PostManyAsync(app, "/api/share", 2);

        shares.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2976);
    }

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task MvcAttribute_WithoutTheMiddlewareAfterRouting_RefusesWith500_AndServesDisabledActions(Order order)
    {
        await using TestApp app = await StartAsync(order, a => a.MapControllers(), AddControllers);

        List<HttpStatusCode> shares = await PostManyAsync(app, "/mvc/mail/share", 2);
        using HttpResponseMessage status = await app.GetAsync("/mvc/mail/status", Ip);

        shares.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        status.StatusCode.Should().Be(HttpStatusCode.OK, "[DisableEmailRateLimit] exempts the action");
        AssertLoggedOnce(app, nameof(MailController.Share), "controller");
    }

    [Fact]
    public async Task MvcAttribute_MiddlewareAfterRouting_LimitsAsBefore()
    {
        await using TestApp app = await StartAsync(Order.AfterRouting, a => a.MapControllers(), AddControllers);

        List<HttpStatusCode> resets = await PostManyAsync(app, "/mvc/mail/reset", 2);

        resets.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2976);
    }

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task PageHandler_WithoutTheMiddlewareAfterRouting_RefusesWith500_AndServesUnlimitedHandlers(Order order)
    {
        await using TestApp app = await StartAsync(order, a => a.MapRazorPages(), AddPages);

        List<HttpStatusCode> posts = await PostManyAsync(app, "/Forms", 2);
        using HttpResponseMessage refused = await app.PostAsync("/Forms?handler=Share", Ip);
        using HttpResponseMessage view = await app.GetAsync("/Forms", Ip);
        using HttpResponseMessage preview = await app.PostAsync("/Forms?handler=Preview", Ip);

        posts.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        refused.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        (await refused.Content.ReadAsStringAsync()).Should().BeEmpty("the handler never ran");
        view.StatusCode.Should().Be(HttpStatusCode.OK, "OnGet has no policy");
        (await preview.Content.ReadAsStringAsync()).Should().Be("preview", "[DisableEmailRateLimit] exempts the handler");
        AssertLoggedOnce(app, "/Forms", "signup");
    }

    [Fact]
    public async Task PageHandler_MiddlewareAfterRouting_LimitsAsBefore()
    {
        await using TestApp app = await StartAsync(Order.AfterRouting, a => a.MapRazorPages(), AddPages);

        List<HttpStatusCode> posts = await PostManyAsync(app, "/Forms", 2);

        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2976);
    }

    [Theory]
    [InlineData(Order.BeforeRouting)]
    [InlineData(Order.Never)]
    public async Task MapControllersConvention_WithoutTheMiddlewareAfterRouting_RefusesWith500(Order order)
    {
        await using TestApp app = await StartAsync(order, a => a.MapControllers().RequireEmailRateLimit("action"), AddControllers);

        using HttpResponseMessage status = await app.GetAsync("/mvc/mail/status", Ip);

        status.StatusCode.Should().Be(HttpStatusCode.InternalServerError, "the convention's policy is the endpoint's last metadata");
        AssertLoggedOnce(app, nameof(MailController.Status), "action");
    }

    private static void AddControllers(IServiceCollection services)
        => services.AddControllers().AddApplicationPart(typeof(MailController).Assembly);

    private static void AddPages(IServiceCollection services)
        => services.AddRazorPages(o => o.RootDirectory = "/RazorPages/Pages")
            .AddApplicationPart(typeof(FormsModel).Assembly)
            .AddRazorPagesOptions(o => o.Conventions.ConfigureFilter(new IgnoreAntiforgeryTokenAttribute()));

    private static async Task<List<HttpStatusCode>> PostManyAsync(TestApp app, string path, int count)
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < count; i++)
        {
            using HttpResponseMessage response = await app.PostAsync(path, Ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private static void AssertLoggedOnce(TestApp app, string endpoint, string policy)
        => app.Logs.GetSnapshot().Where(r => r.Id.Id == 2976).Should().ContainSingle()
            .Which.Message.Should().Contain(endpoint).And.Contain($"'{policy}'")
            .And.Contain("Call app.UseEmailGuard() after app.UseRouting() (and UseAuthentication/UseForwardedHeaders)");
}
