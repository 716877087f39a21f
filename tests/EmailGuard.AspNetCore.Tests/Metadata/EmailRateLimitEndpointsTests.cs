using EmailGuard.AspNetCore.Tests.RazorPages;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Metadata;

/// <summary>
/// The public listing of guarded endpoints over minimal APIs, MVC attributes and compiled Razor pages in one app: each
/// row is what the middleware enforces, including a page handler's own policy and what DisableEmailRateLimit exempts.
/// </summary>
public sealed class EmailRateLimitEndpointsTests
{
    private static Task<TestApp> StartAsync() => TestApp.StartAsync(
        s =>
        {
            s.AddControllers().AddApplicationPart(typeof(MailController).Assembly);
            s.AddRazorPages(o => o.RootDirectory = "/RazorPages/Pages").AddApplicationPart(typeof(FormsModel).Assembly);
            s.AddEmailGuard().AddEndpointPolicies(o =>
            {
                foreach (string name in new[] { "signup", "share", "controller", "action" })
                {
                    o.AddPolicy(name, p => p.PerClientIp(RateLimitRule.PerHour(1)));
                }
            });
        },
        a =>
        {
            a.MapPost("/api/signup", () => Results.Ok()).RequireEmailRateLimit("signup");
            RouteGroupBuilder mail = a.MapGroup("/api/mail").RequireEmailRateLimit("share");
            mail.MapPost("/send", () => Results.Ok());
            mail.MapGet("/status", () => Results.Ok()).DisableEmailRateLimit();
            a.MapMethods("/api/either", ["GET", "POST"], () => Results.Ok()).RequireEmailRateLimit("share", "POST");
            a.Map("/api/any", () => Results.Ok()).RequireEmailRateLimit("signup");
            a.MapGet("/api/free", () => Results.Ok());
            a.MapControllers();
            a.MapRazorPages();
        });

    [Fact]
    public async Task Describe_MinimalMvcAndRazorPages_ListsWhatTheMiddlewareEnforces()
    {
        await using TestApp app = await StartAsync();

        IReadOnlyList<EmailRateLimitEndpointDescription> described =
            EmailRateLimitEndpoints.Describe(app.App.Services.GetRequiredService<EndpointDataSource>().Endpoints);

        described.Select(d => (d.Route, string.Join(",", d.HttpMethods), d.PageHandler, d.PolicyName)).Should().BeEquivalentTo(
        [
            ("/api/signup", "POST", (string?)null, (string?)"signup"),
            ("/api/mail/send", "POST", null, "share"),
            ("/api/mail/status", "GET", null, null),
            ("/api/either", "POST", null, "share"),
            ("/api/any", "", null, "signup"),
            ("/mvc/mail/share", "POST", null, "controller"),
            ("/mvc/mail/reset", "POST", null, "action"),
            ("/mvc/mail/status", "GET", null, null),
            ("/mvc/mail/signup", "POST", null, "action"),
            ("/Forms", "POST", "OnPost", "signup"),
            ("/Forms", "POST", "OnPostShare", "share"),
            ("/Forms", "POST", "OnPostPreview", null),
            ("/Forms", "DELETE", "OnDelete", "signup"),
            ("/Routed/{handler?}", "POST", "OnPost", "signup"),
            ("/Routed/{handler?}", "POST", "OnPostShare", "share"),
            ("/Routed/{handler?}", "POST", "OnPostPreview", null),
            ("/Routed/{handler?}", "DELETE", "OnDelete", "signup"),
            ("/WholePage", "POST,PUT,PATCH,DELETE,CONNECT,QUERY", null, "signup"),
            ("/WholePage", "POST", "OnPostShare", "share"),
            ("/PutOnly", "PUT", null, "signup"),
            ("/NoHandlers", "POST,PUT,PATCH,DELETE,CONNECT,QUERY", null, "signup"),
        ]);
    }

    [Fact]
    public async Task Describe_PageHandler_NamesThePageAndTheDisabledState()
    {
        await using TestApp app = await StartAsync();

        IReadOnlyList<EmailRateLimitEndpointDescription> forms = EmailRateLimitEndpoints
            .Describe(app.App.Services.GetRequiredService<EndpointDataSource>().Endpoints)
            .Where(d => d.Route == "/Forms").ToList();

        forms.Should().OnlyContain(d => d.Page == "/Forms" && d.Endpoint.DisplayName == "/Forms");
        forms.Single(d => d.PageHandler == "OnPostPreview").IsDisabled.Should().BeTrue();
        forms.Single(d => d.PageHandler == "OnPost").IsDisabled.Should().BeFalse();
    }

    [Fact]
    public void Describe_EndpointWithoutMetadata_IsNotListed()
    {
        Endpoint plain = new(_ => Task.CompletedTask, new EndpointMetadataCollection(), "plain");
        Endpoint limited = new(_ => Task.CompletedTask, new EndpointMetadataCollection(new EmailRateLimitAttribute("signup")), "limited");

        IReadOnlyList<EmailRateLimitEndpointDescription> described = EmailRateLimitEndpoints.Describe([plain, limited]);

        described.Should().ContainSingle().Which.Should().BeEquivalentTo(new { Route = "limited", HttpMethods = Array.Empty<string>(), Page = (string?)null, PolicyName = "signup" });
    }
}
