using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// <see cref="EmailGuardDashboardOptions.ActionsAuthorizationPolicy"/>: a viewer who meets only the pages' policy sees the
/// pages without action forms, and an action they post, even with a valid anti-forgery token, changes nothing.
/// </summary>
public sealed class DashboardActionsPolicyTests
{
    [Fact]
    public async Task Viewer_SeesPagesWithoutActionForms()
    {
        // Arrange
        await using DashboardHost host = await DashboardHost.StartAsync(dashboard: o => o.ActionsAuthorizationPolicy = "ops-actions");
        await host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, "t-1", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await host.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com", "spam_trap");
        using HttpClient viewer = host.Client(roles: "ops");
        using HttpClient admin = host.Client(roles: "ops,admin");

        // Act
        string viewerFlags = await viewer.GetStringAsync("/emailguard/flags");
        string viewerLists = await viewer.GetStringAsync("/emailguard/lists");
        string adminFlags = await admin.GetStringAsync("/emailguard/flags");
        string adminLists = await admin.GetStringAsync("/emailguard/lists");

        // Assert
        viewerFlags.Should().Contain("t-1").And.Contain("id=\"read-only\"").And.NotContain("method=\"post\"");
        viewerLists.Should().Contain("spam@example.com").And.Contain("id=\"read-only\"").And.NotContain("method=\"post\"");
        adminFlags.Should().Contain("id=\"flag-apply\"").And.Contain("/emailguard/flags/clear").And.NotContain("id=\"read-only\"");
        adminLists.Should().Contain("id=\"list-add\"").And.Contain("/emailguard/lists/remove");
    }

    [Fact]
    public async Task Viewer_PostingAnActionWithAValidToken_IsRefusedAndNothingChanges()
    {
        // Arrange: the same signed-in user with and without the admin role, so the anti-forgery token (bound to the
        // user's name) an admin page gave is valid for the viewer's post: only the actions policy can refuse it.
        await using DashboardHost host = await DashboardHost.StartAsync(dashboard: o => o.ActionsAuthorizationPolicy = "ops-actions");
        IEmailGuardFlags flags = host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "t-1", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "breaker");
        using HttpClient client = host.Client(roles: null);
        string token = await TokenAsync(client, "/emailguard/flags", "ops,admin");

        // Act
        HttpResponseMessage clear = await PostAsync(client, "/emailguard/flags/clear", "ops", token,
            ("type", "Tenant"), ("id", "t-1"), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes"));
        HttpResponseMessage suspend = await PostAsync(client, "/emailguard/flags/apply", "ops", token,
            ("type", "Tenant"), ("id", "t-2"), ("reason", EmailGuardFlagReasons.Manual), ("confirmed", "yes"));
        HttpResponseMessage add = await PostAsync(client, "/emailguard/lists/add", "ops", token,
            ("kind", "Allowlist"), ("type", "Tenant"), ("value", "t-1"), ("reason", "manual"));
        HttpResponseMessage adminClear = await PostAsync(client, "/emailguard/flags/clear", "ops,admin", token,
            ("type", "Tenant"), ("id", "t-1"), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes"));

        // Assert
        clear.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        suspend.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        add.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-2")).Should().BeEmpty();
        (await host.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.Tenant, "t-1")).Should().BeNull();
        adminClear.StatusCode.Should().Be(HttpStatusCode.SeeOther, "the token was valid: an admin's post with it acts");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-1")).Should().BeEmpty();
    }

    [Fact]
    public async Task ActionsPolicyThatChecksTheRequest_AdminFromTheOfficeActs_FromElsewhereIsRefused()
    {
        // Arrange: an actions policy that looks at the request, as the authorization middleware hands it every policy (the
        // HttpContext as the resource): actions only from the office network, here a header. The pages evaluated the
        // policy without the request, so it never held there: no form was shown, and an action the middleware had let
        // through was answered 403 by the page, from the office too.
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddAuthorization(o => o.AddPolicy("office", p => p.RequireRole("admin").RequireAssertion(
                c => c.Resource is Microsoft.AspNetCore.Http.HttpContext http && http.Request.Headers.ContainsKey("X-Office")))),
            dashboard: o => o.ActionsAuthorizationPolicy = "office");
        using HttpClient office = host.Client(roles: "ops,admin");
        office.DefaultRequestHeaders.Add("X-Office", "1");
        using HttpClient away = host.Client(roles: "ops,admin");

        // Act
        string officeFlags = await office.GetStringAsync("/emailguard/flags");
        string awayFlags = await away.GetStringAsync("/emailguard/flags");
        string token = DashboardPage.TokenPattern().Match(officeFlags).Groups[1].Value;
        HttpResponseMessage fromOffice = await office.PostAsync("/emailguard/lists/add", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), new("kind", "Blocklist"), new("type", "Recipient"), new("value", "spam@example.com"), new("reason", "manual")]));
        HttpResponseMessage fromAway = await away.PostAsync("/emailguard/lists/add", new FormUrlEncodedContent(
            [new("__RequestVerificationToken", token), new("kind", "Blocklist"), new("type", "Recipient"), new("value", "other@example.com"), new("reason", "manual")]));

        // Assert
        officeFlags.Should().Contain("id=\"flag-apply\"").And.NotContain("id=\"read-only\"");
        awayFlags.Should().Contain("id=\"read-only\"").And.NotContain("method=\"post\"");
        fromOffice.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        fromAway.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        IEmailGuardLists lists = host.Services.GetRequiredService<IEmailGuardLists>();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com")).Should().NotBeNull();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "other@example.com")).Should().BeNull();
    }

    [Fact]
    public async Task Map_ActionsPolicyNotRegistered_FailsNamingIt()
    {
        // Arrange
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireRole("ops")));
        builder.Services.AddEmailGuard().AddSendGuard(o => o.Global.Add(RateLimitRule.PerHour(100))).AddDashboard();
        await using WebApplication app = builder.Build();

        // Act
        Action map = () => app.MapEmailGuardDashboard("/emailguard", o =>
        {
            o.AuthorizationPolicy = "ops";
            o.ActionsAuthorizationPolicy = "ops-admin";
        });

        // Assert
        map.Should().Throw<InvalidOperationException>().WithMessage("*actions authorization policy 'ops-admin' is not registered*");
    }

    private static async Task<string> TokenAsync(HttpClient client, string page, string roles)
    {
        using HttpRequestMessage request = new(HttpMethod.Get, page);
        request.Headers.Add("X-Test-Roles", roles);
        using HttpResponseMessage response = await client.SendAsync(request);
        return DashboardPage.TokenPattern().Match(await response.Content.ReadAsStringAsync()).Groups[1].Value;
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string roles, string token, params (string Name, string Value)[] fields)
    {
        using HttpRequestMessage request = new(HttpMethod.Post, path)
        {
            Content = new FormUrlEncodedContent([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]),
        };
        request.Headers.Add("X-Test-Roles", roles);
        return await client.SendAsync(request);
    }
}
