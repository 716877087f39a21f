using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore.Tests.RazorPages;

/// <summary>
/// A path rule that names one handler of a Razor page, <c>POST:/notify?handler=Confirm</c>. A page at <c>@page</c> (no
/// <c>{handler?}</c> in its route) runs <c>OnPostConfirm</c> for <c>POST /notify?handler=confirm</c>: Razor Pages takes the
/// handler from the route value, else from the query's first <c>handler</c> value, never from the form. No rule could
/// name such a handler, and the rule a user would write for it, with the query, matched nothing: the handler was
/// unlimited. The notify page (<c>/notify</c> and <c>/alert</c>) answers with the handler that ran.
/// </summary>
public sealed class RazorPageHandlerPathRuleTests
{
    private const string Ip = "203.0.113.10";

    /// <summary>Requests that run <c>OnPostConfirm</c>, as Razor Pages picks the handler.</summary>
    private static readonly string[] RunConfirm =
    [
        "/notify?handler=confirm",
        "/notify?HANDLER=Confirm",
        "/notify?handler=confirm&handler=x",
        "/notify?handler=CONFIRM&handler=",
        "/notify?handl%65r=conf%69rm",
        "/notify?x=1&Handler=confirm",
        "/Notify/?handler=confirm",
        "/alert?handler=confirm",
        "/ALERT?handler=Confirm&handler=other",
    ];

    /// <summary>Requests to the same page that run <c>OnPost</c>: no handler, an empty or unknown one, or confirm second.</summary>
    private static readonly string[] RunPost =
    [
        "/notify",
        "/notify?handler=",
        "/notify?handler=x&handler=confirm",
        "/notify?handler=&handler=confirm",
        "/notify?handler=other",
        "/notify?handlers=confirm",
        "/notify?handler=confirm2",
        "/alert",
        "/alert?handler=share",
    ];

    [Fact]
    public async Task ExactRule_NamingAHandlerInTheQuery_EverySpellingThatRunsIt_AdmitsExactlyTheLimit()
    {
        // Arrange: each spelling, from a client of its own, runs OnPostConfirm (Razor Pages' choice) and is admitted.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(MvcPathRuleApps.Rules("POST:/notify?handler=confirm", limit: 5));
        for (int i = 0; i < RunConfirm.Length; i++)
        {
            (await RanAsync(app, $"198.51.100.{i + 1}", RunConfirm[i])).Should().Be("confirm", "Razor Pages runs OnPostConfirm for {0}", RunConfirm[i]);
        }

        // Act: one client posts 50 times, through every spelling in turn.
        var ran = new List<string>();
        for (int i = 0; i < 50; i++)
        {
            ran.Add(await RanAsync(app, Ip, RunConfirm[i % RunConfirm.Length]));
        }

        // Assert
        ran.Count(r => r == "confirm").Should().Be(5, "the rule's limit is 5 an hour, whatever spelling names the handler");
        ran.Where(r => r != "confirm").Should().AllBe("429");
    }

    [Fact]
    public async Task ExactRule_NamingAHandlerInTheQuery_RequestsThatRunAnotherHandler_AreNotCounted()
    {
        // Arrange: the rule's one request an hour is spent.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(MvcPathRuleApps.Rules("POST:/notify?handler=confirm", limit: 1));
        (await RanAsync(app, Ip, "/notify?handler=confirm")).Should().Be("confirm");

        // Act
        var ran = new List<string>();
        foreach (string path in RunPost)
        {
            ran.Add(await RanAsync(app, Ip, path));
        }

        using HttpResponseMessage form = await app.PostAsync("/notify", Ip, new FormUrlEncodedContent([new("handler", "confirm")]));
        ran.Add(await form.Content.ReadAsStringAsync());

        // Assert: Razor Pages runs OnPost for each (the form's handler field is not read), and the rule does not count it.
        ran.Should().AllBe("post");
        (await RanAsync(app, Ip, "/alert?handler=confirm")).Should().Be("429");
    }

    [Fact]
    public async Task ExactRule_NamingAHandlerInTheQuery_PageWithAHandlerSegment_CountsTheHandlerFromTheRouteOrTheQuery()
    {
        // Arrange: the share page is at "{handler?}", and at send/{handler?}.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(MvcPathRuleApps.Rules("POST:/share?handler=confirm", limit: 1));
        (await RanAsync(app, Ip, "/share/confirm")).Should().Be("confirm");

        // Act
        List<HttpStatusCode> confirm = await app.PostAllAsync(Ip, "/share?handler=Confirm", "/send/confirm", "/send?handler=confirm", "/share/CONFIRM");
        List<HttpStatusCode> others = await app.PostAllAsync(Ip, "/share", "/share/other?handler=confirm", "/send", "/send?handler=other");

        // Assert
        confirm.Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests, "each runs OnPostConfirm");
        others.Should().AllBeEquivalentTo(HttpStatusCode.OK, "a handler the route names wins over the query's, and none of these runs OnPostConfirm");
    }

    [Fact]
    public async Task ExactRule_NamingAHandler_BesideARuleOnThePage_EachKeepsItsOwnCounter()
    {
        // Arrange: the page's rule is written first; the handler's is the narrower one whatever the order.
        Dictionary<string, string?> rules = MvcPathRuleApps.Rules("POST:/notify", limit: 1);
        rules["EmailGuard:Endpoints:PathRules:1:Endpoint"] = "POST:/notify?handler=Confirm";
        rules["EmailGuard:Endpoints:PathRules:1:Limit"] = "2";
        rules["EmailGuard:Endpoints:PathRules:1:Window"] = "01:00:00";
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(rules);

        // Act
        List<HttpStatusCode> confirm = await app.PostAllAsync(Ip, "/notify?handler=confirm", "/alert?handler=confirm", "/notify?handler=confirm");
        List<HttpStatusCode> post = await app.PostAllAsync(Ip, "/alert", "/notify?handler=other", "/notify");

        // Assert
        confirm.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        post.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task ExactRule_OnThePagesPath_CoversEveryHandlerAtEveryRoute()
    {
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(MvcPathRuleApps.Rules("POST:/notify", limit: 1));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/notify?handler=confirm", "/notify", "/alert?handler=confirm", "/alert", "/notify?handler=other");

        statuses.Should().Equal([HttpStatusCode.OK, .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 4)], "a rule on the page's path leaves the handler open");
    }

    [Fact]
    public async Task ExactRule_NamingAHandler_DynamicPageRoute_CountsTheHandlerTheQueryNames_AndNoOther()
    {
        // Arrange: p/relay is a dynamic route to the relay page, whose transformer gives no handler.
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(
            MvcPathRuleApps.Rules("POST:/relay?handler=confirm", limit: 1),
            a => a.MapDynamicPageRoute<RazorPagePathRuleTests.PageSlugTransformer>("p/{**slug}"));
        (await RanAsync(app, Ip, "/p/relay?handler=confirm")).Should().Be("confirm");

        // Act
        List<HttpStatusCode> confirm = await app.PostAllAsync(Ip, "/relay?handler=confirm", "/p/relay?handler=CONFIRM");
        List<string> post = [await RanAsync(app, Ip, "/p/relay"), await RanAsync(app, Ip, "/p/relay?handler=x")];

        // Assert
        confirm.Should().AllBeEquivalentTo(HttpStatusCode.TooManyRequests);
        post.Should().AllBe("post", "a page's handler is never unknown: no handler in the route or the query runs OnPost");
    }

    [Fact]
    public async Task ExactRule_NamingAHandler_OnAnEndpointThatIsNoPage_LimitsNothing()
    {
        await using TestApp app = await RazorPagePathRuleTests.StartAsync(
            MvcPathRuleApps.Rules("POST:/api/notify?handler=confirm", limit: 1),
            a => a.MapPost("/api/notify", () => "api"));

        List<HttpStatusCode> statuses = await app.PostAllAsync(Ip, "/api/notify?handler=confirm", "/api/notify?handler=confirm");

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.OK, "only a Razor page has handlers");
    }

    /// <summary>Posts to <paramref name="path"/> and returns the handler that ran, or the status code when the page did not answer.</summary>
    private static async Task<string> RanAsync(TestApp app, string ip, string path)
    {
        using HttpResponseMessage response = await app.PostAsync(path, ip);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
