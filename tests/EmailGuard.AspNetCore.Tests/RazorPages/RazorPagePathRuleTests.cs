using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Routing;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.RazorPages;

/// <summary>
/// A path rule on one route of a Razor page covers the page's other routes: a page is one endpoint per route (an
/// <c>Index</c> page at its folder and at <c>/Index</c>, a route added by <c>AddPageRoute</c>), and a bot sent to the
/// route the rule does not name was unlimited. Another page at a similar path, or of the same path in another area,
/// stays outside the rule.
/// </summary>
public sealed class RazorPagePathRuleTests
{
    private const string Ip = "203.0.113.9";

    /// <summary>
    /// The pages of <c>PathRulePages</c> and of the <c>Admin</c> and <c>Billing</c> areas (<c>Areas/*/Pages</c>, where Razor
    /// Pages finds area pages), with the routes the tests add to them, under <paramref name="rules"/>.
    /// </summary>
    internal static Task<TestApp> StartAsync(Dictionary<string, string?> rules, Action<WebApplication>? map = null) => TestApp.StartAsync(
        s =>
        {
            s.AddSingleton<PageSlugTransformer>();
            s.AddEmailGuard().AddEndpointPolicies();
            s.AddRazorPages(o =>
                {
                    o.RootDirectory = "/RazorPages/PathRulePages";
                    o.Conventions.AddPageRoute("/Signup", "register");
                    o.Conventions.AddPageRoute("/Signup", "join/{campaign}");
                    o.Conventions.AddPageRoute("/Share", "send/{handler?}");
                    o.Conventions.AddPageRoute("/Invite", "orgs/{tenant}/invite");
                    o.Conventions.AddPageRoute("/Notify", "alert");
                    o.Conventions.AddAreaPageRoute("Admin", "/Share", "admin-send");
                })
                .AddApplicationPart(typeof(RazorPagePathRuleTests).Assembly)
                .AddRazorPagesOptions(o => o.Conventions.ConfigureFilter(new IgnoreAntiforgeryTokenAttribute()));
        },
        a =>
        {
            a.MapRazorPages();
            map?.Invoke(a);
        },
        rules);

    [Fact]
    public async Task ExactRule_PageWithPageRoutes_EveryRouteCountsInTheRulesCounter()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/signup", limit: 2));
        string[] routes = ["/register", "/join/spring", "/signup"];

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, [.. routes, .. routes]);

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 4)],
            "the three routes serve one page, and the rule's 2 per hour are the page's");
    }

    [Fact]
    public async Task ExactRule_OnAPageRoute_ThePagesOwnRouteCountsToo()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/register", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/signup", "/Signup", "/join/autumn", "/register");

        statuses.Should().Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 3)]);
    }

    [Fact]
    public async Task ExactRule_IndexPage_TheFolderAndTheIndexPathShareTheRulesCounter()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/account", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/account", "/account/index", "/Account/Index/");

        statuses.Should().Equal([HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], "an Index page is one page at two routes");
    }

    [Fact]
    public async Task ExactRule_PageWithAHandlerSegment_EveryHandlerAtEveryRouteCounts()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/share", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/share", "/share/confirm", "/send", "/send/confirm", "/send?handler=confirm");

        statuses.Should().Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 4)], "the rule's path leaves the handler open");
    }

    [Fact]
    public async Task ExactRule_OnANamedHandler_TheQueryNamingTheHandlerCountsToo()
    {
        // Arrange: Razor Pages runs the handler the query names when the route names none.
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/share/confirm", limit: 1));
        (await app.PostAllAsync(Ip, "/share/confirm")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> confirm = await app.PostAllAsync(Ip, "/share?handler=confirm", "/send?handler=CONFIRM", "/send/confirm");
        List<HttpStatusCode> others = await app.PostAllAsync(Ip, "/share", "/share?handler=", "/share?handler=other", "/share/other?handler=confirm");

        // Assert
        confirm.Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests, "each runs OnPostConfirm");
        others.Should().AllBeEquivalentTo(HttpStatusCode.OK, "a route's handler wins over the query's, and none of these runs OnPostConfirm");
    }

    [Fact]
    public async Task ExactRule_AnotherPageAtASimilarPath_IsNotCovered()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/signup", limit: 1));
        (await app.PostAllAsync(Ip, "/register")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/signup/confirm", "/signup/confirm", "/account");

        // Assert
        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "confirm and account are other pages, however close their paths");
    }

    [Fact]
    public async Task ExactRule_OnARouteValue_ThePagesOtherRouteCountsOnlyTheRulesValue()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/tenants/acme/invite", limit: 1));
        (await app.PostAllAsync(Ip, "/tenants/acme/invite")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> acme = await app.PostAllAsync(Ip, "/orgs/acme/invite", "/orgs/ACME/invite");
        List<HttpStatusCode> globex = await app.PostAllAsync(Ip, "/orgs/globex/invite", "/tenants/globex/invite", "/orgs/globex/invite");

        // Assert
        acme.Should().Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], "acme's invite at another route of the page");
        globex.Should().AllBeEquivalentTo(HttpStatusCode.OK, "another tenant's invite is not the rule's");
    }

    [Fact]
    public async Task ExactRule_EachRouteOfAPageWithItsOwnRule_EachRouteKeepsItsOwnCounter()
    {
        // Arrange: a tight rule on the page's own path, a looser one on its added route.
        Dictionary<string, string?> rules = MvcPathRuleApps.Rules("POST:/signup", limit: 1);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/register";
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "3";
        await using TestApp app = await StartAsync(rules);

        // Act
        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/register", "/register", "/register", "/register", "/signup");

        // Assert
        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK],
            "a route's own rule is its rule; the page's other rule only covers routes without one");
    }

    [Fact]
    public async Task ExactRule_DynamicPageRouteToThePage_CountsInTheRulesCounter()
    {
        // Arrange: a dynamic route whose transformer sends /p/join and /p/later to the join page, and /p/confirm to another page.
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/join", limit: 1), a => a.MapDynamicPageRoute<PageSlugTransformer>("p/{**slug}"));
        (await app.PostAllAsync(Ip, "/p/later")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> signup = await app.PostAllAsync(Ip, "/p/join", "/join");
        List<HttpStatusCode> confirm = await app.PostAllAsync(Ip, "/p/confirm", "/p/confirm");

        // Assert
        signup.Should().Equal([HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests]);
        confirm.Should().AllBeEquivalentTo(HttpStatusCode.OK, "confirm is another page");
    }

    [Fact]
    public async Task ExactRule_OnAnAreaPage_ItsOtherRoutesCount_ThePageOfItsPathInAnotherAreaOrNoneDoesNot()
    {
        // Arrange: /Share is a page of the Admin area, of the Billing area, and of no area (PathRulePages/Share).
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/admin/share", limit: 1), a => a.MapDynamicPageRoute<PageSlugTransformer>("p/{**slug}"));
        (await app.PostAllAsync(Ip, "/admin/share")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> admin = await app.PostAllAsync(Ip, "/admin-send", "/Admin/Share/");
        List<HttpStatusCode> others = await app.PostAllAsync(Ip, "/billing/share", "/p/billing-share", "/share", "/send", "/admin", "/admin/index");

        // Assert
        admin.Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests, "each route runs the Admin area's /Share page");
        others.Should().AllBeEquivalentTo(HttpStatusCode.OK, "the other areas' /Share and the Admin area's other page are other pages");
    }

    [Fact]
    public async Task ExactRule_OnAnAreaPagesAddedRoute_TheAreaRouteCountsToo()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/admin-send", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/admin/share", "/admin-send", "/billing/share", "/share");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK);
    }

    [Fact]
    public async Task ExactRule_OnAPageOfNoArea_ThePagesOfItsPathInAreasAreNotCovered()
    {
        // Arrange
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/share", limit: 1), a => a.MapDynamicPageRoute<PageSlugTransformer>("p/{**slug}"));
        (await app.PostAllAsync(Ip, "/share")).Should().Equal(HttpStatusCode.OK);

        // Act
        List<HttpStatusCode> areas = await app.PostAllAsync(Ip, "/admin/share", "/admin-send", "/billing/share", "/p/billing-share");
        List<HttpStatusCode> page = await app.PostAllAsync(Ip, "/send", "/share/confirm");

        // Assert
        areas.Should().AllBeEquivalentTo(HttpStatusCode.OK, "one page path in two areas, or in an area and none, is two pages");
        page.Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ExactRule_OnAnAreaPage_ADynamicRouteToItCounts_TheSamePageInAnotherAreaIsNotCovered()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/billing/share", limit: 1), a => a.MapDynamicPageRoute<PageSlugTransformer>("p/{**slug}"));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/billing/share", "/p/billing-share", "/Billing/Share", "/admin/share", "/admin-send", "/share");

        statuses.Should().Equal(
            [HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, .. Enumerable.Repeat(HttpStatusCode.OK, 3)],
            "the dynamic route runs the Billing area's page; the Admin area's and no area's are other pages");
    }

    [Fact]
    public async Task ExactRule_AreaIndexPage_TheAreaAndTheIndexPathShareTheRulesCounter()
    {
        await using TestApp app = await StartAsync(MvcPathRuleApps.Rules("POST:/admin", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/admin", "/Admin/Index", "/account", "/admin/share");

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.OK);
    }

    /// <summary>
    /// Sends <c>confirm</c> to the confirm page, <c>relay</c> to the relay page, <c>billing-share</c> to the Billing area's
    /// share page, and anything else to the join page (pages of one route each, as a dynamic route needs).
    /// </summary>
    internal sealed class PageSlugTransformer : DynamicRouteValueTransformer
    {
        public override ValueTask<RouteValueDictionary> TransformAsync(HttpContext httpContext, RouteValueDictionary values)
            => ValueTask.FromResult((values["slug"] as string) switch
            {
                "confirm" => new RouteValueDictionary { ["page"] = "/Signup/Confirm" },
                "relay" => new RouteValueDictionary { ["page"] = "/Relay" },
                "billing-share" => new RouteValueDictionary { ["area"] = "Billing", ["page"] = "/Share" },
                _ => new RouteValueDictionary { ["page"] = "/Join" },
            });
    }
}
