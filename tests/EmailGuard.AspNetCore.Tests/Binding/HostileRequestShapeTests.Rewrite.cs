using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Rewrite;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

/// <summary>
/// <c>UseRewriter()</c> after <c>UseRouting()</c> rewrites the path and routes the request again, then runs the rest of
/// the pipeline after it. Placed after <c>UseEmailGuard()</c>, the new endpoint ran without the middleware seeing it: a
/// legacy alias rewritten onto a path-rule endpoint mailed the victim once per request.
/// </summary>
public sealed partial class HostileRequestShapeTests
{
    private static RewriteOptions LegacyAliases() => new RewriteOptions()
        .AddRewrite("^legacy/invite$", "api/invite", skipRemainingRules: true)
        .AddRewrite("^legacy/share$", "api/share", skipRemainingRules: true)
        .AddRewrite("^api/share-form$", "api/invite", skipRemainingRules: true);

    [Theory]
    [InlineData("/legacy/invite")]
    [InlineData("/legacy/share")]
    public async Task RewriterAfterTheGuard_OntoAGuardedEndpoint_IsRefusedAndMailsNothing_AndSaysWhy(string path)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseRewriter(LegacyAliases()); });

        List<HttpStatusCode> statuses = await SendAsync(app, path, 4, _ => BindingContent.Json(VictimJson));

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError, "the endpoint runs only past the guard that covers it");
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(0);
        if (path == "/legacy/invite")
        {
            // A path rule covers the path the alias is rewritten onto: the rewrite itself is refused, before routing.
            app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle("the misplaced rewriter is logged once per rule")
                .Which.Message.Should().Contain("path rule 'POST:/api/invite'").And.Contain("UseEmailGuard()");
        }
    }

    [Fact]
    public async Task RewriterAfterTheGuard_FromOneGuardedEndpointOntoAnother_IsRefused()
    {
        // The middleware applied the form endpoint's share policy (the request has no form field, so it counted nothing
        // there); the invite path rule the request was rewritten onto was not applied.
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UseRewriter(LegacyAliases()); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/api/share-form", 3, _ => BindingContent.Json(VictimJson));

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError, "the invite endpoint runs only past its path rule");
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(0);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle().Which.Message.Should().Contain("path rule 'POST:/api/invite'");
    }

    [Theory]
    [InlineData("/legacy/invite")]
    [InlineData("/legacy/share")]
    public async Task RewriterBeforeTheGuard_OntoAGuardedEndpoint_CountsAsTheEndpoint(string path)
    {
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseRewriter(LegacyAliases()); a.UseEmailGuard(); });

        List<HttpStatusCode> statuses = await SendAsync(app, path, 4, _ => BindingContent.Json(VictimJson));

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(1);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3067);
    }

    [Fact]
    public async Task RewriterAfterTheGuard_OntoAnUnguardedEndpoint_OrNotRewriting_RunsAsBefore()
    {
        int unguarded = 0;
        await using TestApp app = await StartAsync(_ => { }, a =>
        {
            a.UseEmailGuard();
            a.UseRewriter(new RewriteOptions().AddRewrite("^legacy/open$", "api/open", skipRemainingRules: true));
            a.MapPost("/api/open", () =>
            {
                Interlocked.Increment(ref unguarded);
                return Results.Ok();
            });
        });

        // Rewritten onto an endpoint no policy or rule covers: it runs, every time.
        (await SendAsync(app, "/legacy/open", 3, _ => BindingContent.Json(VictimJson))).Should().AllBeEquivalentTo(HttpStatusCode.OK);
        unguarded.Should().Be(3);

        // Not rewritten: guarded by its path rule as always.
        (await SendAsync(app, "/api/invite", 2, _ => BindingContent.Json(VictimJson))).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3067);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RewriterAfterTheGuard_OntoAnEndpointThatDisablesEmailGuard_UnderAPathRule_IsRefused_AndBeforeTheGuardRuns(bool rewriterFirst)
    {
        // The middleware counts nothing at a DisableEmailRateLimit endpoint, not even a path rule on its path. A rewrite
        // after the guard is decided when the path is set, before routing says what serves it (a branch outside routing
        // runs ahead of the endpoint), so it is refused under the rule; placed before the guard, the rewriter has the
        // guard decide the endpoint, which runs.
        int ran = 0;
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddEndpointPolicies(),
            a =>
            {
                RewriteOptions rewrites = new RewriteOptions().AddRewrite("^legacy/quiet$", "api/quiet", skipRemainingRules: true);
                if (rewriterFirst)
                {
                    a.UseRewriter(rewrites);
                }

                a.UseEmailGuard();
                if (!rewriterFirst)
                {
                    a.UseRewriter(rewrites);
                }

                a.MapPost("/api/quiet", () =>
                {
                    Interlocked.Increment(ref ran);
                    return Results.Ok();
                }).DisableEmailRateLimit();
            },
            new Dictionary<string, string?>
            {
                ["EmailGuard:Endpoints:PathRules:0:Endpoint"] = "POST:/api/quiet",
                ["EmailGuard:Endpoints:PathRules:0:Limit"] = "1",
                ["EmailGuard:Endpoints:PathRules:0:Window"] = "01:00:00",
            },
            useEmailGuard: false);

        (await SendAsync(app, "/legacy/quiet", 3, _ => BindingContent.Json(VictimJson))).Should().AllBeEquivalentTo(
            rewriterFirst ? HttpStatusCode.OK : HttpStatusCode.InternalServerError);
        (await SendAsync(app, "/api/quiet", 2, _ => BindingContent.Json(VictimJson))).Should().AllBeEquivalentTo(HttpStatusCode.OK, "the endpoint disables EmailGuard");
        ran.Should().Be(rewriterFirst ? 5 : 2);
        app.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 3067);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().HaveCount(rewriterFirst ? 0 : 1);
    }

    [Theory]
    [InlineData("/legacy/reset", "/mvc/mail/reset")]
    [InlineData("/legacy/group", "/api/v2/invite")]
    public async Task RewriterAfterTheGuard_OntoAnMvcActionOrARouteGroupPolicy_IsRefused_AndBeforeItCountsOnce(string alias, string target)
    {
        // An attribute-routed MVC action ([EmailRateLimit("action")]) and a minimal API endpoint whose policy comes from
        // its route group: both are route endpoints the rerouting check replaces, so neither runs uncounted.
        int grouped = 0;
        RewriteOptions rewrites = new RewriteOptions().AddRewrite("^" + alias.TrimStart('/') + "$", target.TrimStart('/'), skipRemainingRules: true);
        async Task<List<HttpStatusCode>> RunAsync(bool rewriterFirst)
        {
            await using TestApp app = await TestApp.StartAsync(
                s =>
                {
                    s.AddControllers().AddApplicationPart(typeof(MailController).Assembly);
                    s.AddEmailGuard().AddEndpointPolicies(o =>
                    {
                        o.AddPolicy("controller", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                        o.AddPolicy("action", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                        o.AddPolicy("group", p => p.PerClientIp(RateLimitRule.PerHour(1)));
                    });
                },
                a =>
                {
                    if (rewriterFirst)
                    {
                        a.UseRewriter(rewrites);
                    }

                    a.UseEmailGuard();
                    if (!rewriterFirst)
                    {
                        a.UseRewriter(rewrites);
                    }

                    a.MapControllers();
                    a.MapGroup("/api/v2").RequireEmailRateLimit("group").MapPost("/invite", () =>
                    {
                        Interlocked.Increment(ref grouped);
                        return Results.Ok();
                    });
                },
                useEmailGuard: false);
            return await app.PostAllAsync(Ip, alias, alias, alias);
        }

        (await RunAsync(rewriterFirst: false)).Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError, "the guard never counted the policy there");
        (await RunAsync(rewriterFirst: true)).Should().Equal(HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests);
        grouped.Should().Be(target.StartsWith("/api", StringComparison.Ordinal) ? 1 : 0);
    }

    [Fact]
    public async Task PathBaseAfterTheGuard_RoutingAgainOntoAPathRuleEndpoint_IsRefused()
    {
        // UsePathBase after routing strips the base and has the request routed again, by /api/invite this time: like a
        // rewrite after the guard, the invite endpoint must not run past the path rule the guard never counted.
        await using TestApp app = await StartAsync(_ => { }, a => { a.UseEmailGuard(); a.UsePathBase("/legacy"); });

        List<HttpStatusCode> statuses = await SendAsync(app, "/legacy/api/invite", 4, _ => BindingContent.Json(VictimJson));

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.InternalServerError);
        app.App.Services.GetRequiredService<BoundValues>().Count(Victim).Should().Be(0);
        app.Logs.GetSnapshot().Where(r => r.Id.Id == 3166).Should().ContainSingle().Which.Message.Should().Contain("path rule 'POST:/api/invite'");
    }
}
