using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.AspNetCore.Mvc.RazorPages.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.RazorPages;

/// <summary>
/// Policies bound to Razor page handlers and to HTTP methods, on real compiled pages: viewing a form never spends
/// its quota, each handler counts against its own policy, and an attribute that could not work stops the app at start.
/// </summary>
public sealed class RazorPagesHandlerTests
{
    private const string Ip = "203.0.113.5";

    private static Task<TestApp> StartAsync(
        string root = "/RazorPages/Pages", bool sharePolicy = true, Action<WebApplication>? map = null, Action<IServiceCollection>? services = null)
        => TestApp.StartAsync(
            s =>
            {
                services?.Invoke(s);
                s.AddRazorPages(o => o.RootDirectory = root)
                    .AddApplicationPart(typeof(FormsModel).Assembly)
                    .AddRazorPagesOptions(o => o.Conventions.ConfigureFilter(new IgnoreAntiforgeryTokenAttribute()));
                s.AddEmailGuard().AddEndpointPolicies(o =>
                {
                    o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                    if (sharePolicy)
                    {
                        o.AddPolicy("share", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                    }
                });
            },
            a => (map ?? (app => app.MapRazorPages()))(a));

    [Fact]
    public async Task Get_ManyTimes_NeverSpendsTheQuotaOfOnPost()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> views = await SendManyAsync(app, HttpMethod.Get, "/Forms", 5);
        List<HttpStatusCode> heads = await SendManyAsync(app, HttpMethod.Head, "/Forms", 5);
        List<HttpStatusCode> posts = await SendManyAsync(app, HttpMethod.Post, "/Forms", 2);

        views.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        heads.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task OnPostShare_HasItsOwnPolicy_AndDoesNotSpendOnPosts()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> shares = await SendManyAsync(app, HttpMethod.Post, "/Forms?handler=Share", 2);
        List<HttpStatusCode> posts = await SendManyAsync(app, HttpMethod.Post, "/Forms", 2);

        shares.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task UnknownHandlerName_RunsOnPost_AndCountsAgainstItsPolicy()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage first = await app.PostAsync("/Forms?handler=NoSuchHandler", Ip);
        using HttpResponseMessage second = await app.PostAsync("/Forms?handler=SHARE2", Ip);
        using HttpResponseMessage third = await app.PostAsync("/Forms", Ip);

        (await first.Content.ReadAsStringAsync()).Should().Be("post", "Razor Pages falls back to the unnamed handler");
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task HandlerNameCase_IsIgnoredAsRazorPagesIgnoresIt()
    {
        await using TestApp app = await StartAsync();

        using HttpResponseMessage first = await app.PostAsync("/Forms?handler=share", Ip);
        using HttpResponseMessage second = await app.PostAsync("/Forms?handler=SHARE", Ip);

        (await first.Content.ReadAsStringAsync()).Should().Be("share");
        second.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task HandlerInRouteValue_SelectsLikeTheQuery()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> shares = await SendManyAsync(app, HttpMethod.Post, "/Routed/Share", 2);
        using HttpResponseMessage post = await app.PostAsync("/Routed", Ip);
        using HttpResponseMessage routeBeatsQuery = await app.PostAsync("/Routed/Share?handler=Preview", Ip);

        shares.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        (await post.Content.ReadAsStringAsync()).Should().Be("post");
        routeBeatsQuery.StatusCode.Should().Be(HttpStatusCode.TooManyRequests, "the route value names the handler, as in Razor Pages");
    }

    [Fact]
    public async Task DisabledHandler_IsNeverLimited()
    {
        await using TestApp app = await StartAsync();

        (await SendManyAsync(app, HttpMethod.Post, "/Forms", 2)).Last().Should().Be(HttpStatusCode.TooManyRequests);
        List<HttpStatusCode> previews = await SendManyAsync(app, HttpMethod.Post, "/Forms?handler=Preview", 4);

        previews.Should().AllBeEquivalentTo(HttpStatusCode.OK);
    }

    [Fact]
    public async Task OtherVerbHandler_CountsAgainstItsOwnAttribute()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> deletes = await SendManyAsync(app, HttpMethod.Delete, "/Forms", 2);

        deletes.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PageModelClassAttribute_CoversPostNotGet_AndAHandlerAttributeOverridesIt()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> views = await SendManyAsync(app, HttpMethod.Get, "/WholePage", 4);
        List<HttpStatusCode> posts = await SendManyAsync(app, HttpMethod.Post, "/WholePage", 2);
        List<HttpStatusCode> shares = await SendManyAsync(app, HttpMethod.Post, "/WholePage?handler=Share", 2);

        views.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        shares.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task PageAttributeInRazorFile_CoversPostOfAPageWithoutHandlers()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> views = await SendManyAsync(app, HttpMethod.Get, "/NoHandlers", 3);
        List<HttpStatusCode> posts = await SendManyAsync(app, HttpMethod.Post, "/NoHandlers", 2);

        views.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        posts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ClassAttributeWithMethods_LimitsOnlyThoseMethods()
    {
        await using TestApp app = await StartAsync();

        List<HttpStatusCode> posts = await SendManyAsync(app, HttpMethod.Post, "/PutOnly", 3);
        List<HttpStatusCode> puts = await SendManyAsync(app, HttpMethod.Put, "/PutOnly", 2);

        posts.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        puts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ConventionOnAllPages_SkipsGetByDefault_AndWithMethodsCoversExactlyThem()
    {
        await using TestApp app = await StartAsync(map: a =>
        {
            a.MapRazorPages().RequireEmailRateLimit("signup");
            a.MapMethods("/api/mail", ["GET", "HEAD", "POST"], () => "ok").RequireEmailRateLimit("share", "GET");
        });

        List<HttpStatusCode> pageViews = await SendManyAsync(app, HttpMethod.Get, "/PutOnly", 3);
        List<HttpStatusCode> pagePosts = await SendManyAsync(app, HttpMethod.Post, "/PutOnly", 2);
        List<HttpStatusCode> apiPosts = await SendManyAsync(app, HttpMethod.Post, "/api/mail", 3);
        List<HttpStatusCode> apiHeadThenGet = [.. await SendManyAsync(app, HttpMethod.Head, "/api/mail", 1), .. await SendManyAsync(app, HttpMethod.Get, "/api/mail", 1)];

        pageViews.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        pagePosts.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        apiPosts.Should().AllBeEquivalentTo(HttpStatusCode.OK);
        apiHeadThenGet.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests], "GET in the list covers HEAD");
    }

    [Fact]
    public async Task AttributeOnAMethodThatIsNotAHandler_FailsAtStartup()
    {
        Func<Task> start = () => StartAsync(root: "/RazorPages/Misplaced");

        (await start.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("*MisplacedModel.Prepare*'/Helper'*would limit nothing*not a page handler*OnPost*");
    }

    [Fact]
    public async Task MethodsOnAHandlerAttribute_FailsAtStartup()
    {
        Func<Task> start = () => StartAsync(root: "/RazorPages/MisplacedMethods");

        (await start.Should().ThrowAsync<InvalidOperationException>())
            .WithMessage("*MethodsOnHandlerModel.OnPost*one HTTP method already (POST)*");
    }

    [Fact]
    public async Task HandlerNamingAPolicyNobodyAdded_FailsAtStartup()
    {
        Func<Task> start = () => StartAsync(sharePolicy: false);

        (await start.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*OnPostShare*'share'*which was not added*");
    }

    [Fact]
    public async Task CustomHandlerSelector_RunsAnotherPolicysHandler_RefusedWith500AndLogged()
    {
        await using TestApp app = await StartAsync(services: s => s.AddSingleton<IPageHandlerMethodSelector, AlwaysShareSelector>());

        using HttpResponseMessage counted = await app.PostAsync("/Forms", Ip);
        using HttpResponseMessage matching = await app.PostAsync("/Forms?handler=Share", Ip);

        counted.StatusCode.Should().Be(HttpStatusCode.InternalServerError, "it was counted as OnPost but would have run OnPostShare");
        (await counted.Content.ReadAsStringAsync()).Should().NotBe("share");
        matching.StatusCode.Should().Be(HttpStatusCode.OK);
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 1600)
            .Which.Message.Should().Contain("OnPostShare").And.Contain("OnPost");
    }

    [Theory]
    [InlineData("PSOT")]
    [InlineData("")]
    public void Methods_NotAnHttpMethod_Throws(string method)
    {
        Action attribute = () => _ = new EmailRateLimitAttribute("signup") { Methods = [method] };
        Action convention = () => new RouteGroupBuilderStub().RequireEmailRateLimit("signup", method);
        Action none = () => _ = new EmailRateLimitAttribute("signup") { Methods = [] };

        attribute.Should().Throw<ArgumentException>().WithMessage("*not an HTTP method*");
        convention.Should().Throw<ArgumentException>().WithMessage("*not an HTTP method*");
        none.Should().Throw<ArgumentException>().WithMessage("*at least one*");
    }

    [Fact]
    public void Methods_AreNormalizedToUpperCase()
        => new EmailRateLimitAttribute("signup") { Methods = ["post", " Get "] }.Methods.Should().Equal("POST", "GET");

    private static async Task<List<HttpStatusCode>> SendManyAsync(TestApp app, HttpMethod method, string path, int count)
    {
        List<HttpStatusCode> statuses = [];
        for (int i = 0; i < count; i++)
        {
            using HttpResponseMessage response = await app.SendAsync(method, path, Ip);
            statuses.Add(response.StatusCode);
        }

        return statuses;
    }

    private sealed class AlwaysShareSelector : IPageHandlerMethodSelector
    {
        public HandlerMethodDescriptor? Select(PageContext context)
            => context.ActionDescriptor.HandlerMethods.FirstOrDefault(h => h.Name == "Share" && string.Equals(h.HttpMethod, context.HttpContext.Request.Method, StringComparison.OrdinalIgnoreCase));
    }

    private sealed class RouteGroupBuilderStub : IEndpointConventionBuilder
    {
        public void Add(Action<EndpointBuilder> convention)
        {
        }
    }
}
