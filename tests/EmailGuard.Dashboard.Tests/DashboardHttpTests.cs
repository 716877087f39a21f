using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

public sealed partial class DashboardHttpTests : IAsyncLifetime
{
    private static readonly string[] Pages = ["/emailguard/", "/emailguard/policies", "/emailguard/lists", "/emailguard/lists?kind=Allowlist", "/emailguard/flags", "/emailguard/events"];

    private const string ScriptTenant = "<script>alert('t')</script>";
    private const string ImgUser = "\"><img src=x onerror=alert('u')>";

    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task EveryPage_Anonymous_Refused()
    {
        using HttpClient client = _host.Client(user: null, roles: null);
        foreach (string page in Pages)
        {
            HttpResponseMessage response = await client.GetAsync(page);
            response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, page);
        }

        (await client.PostAsync("/emailguard/lists/add", new FormUrlEncodedContent([new("value", "x@example.com")]))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task EveryPage_UserWithoutPolicy_Forbidden()
    {
        using HttpClient client = _host.Client(user: "mallory", roles: "support");
        foreach (string page in Pages)
        {
            (await client.GetAsync(page)).StatusCode.Should().Be(HttpStatusCode.Forbidden, page);
        }
    }

    [Fact]
    public async Task EveryPage_Operator_RendersUnderStrictCspWithItsNonce()
    {
        using HttpClient client = _host.Client();
        foreach (string page in Pages)
        {
            HttpResponseMessage response = await client.GetAsync(page);
            response.StatusCode.Should().Be(HttpStatusCode.OK, page);
            string csp = response.Headers.GetValues("Content-Security-Policy").Single();
            Match nonce = NoncePattern().Match(csp);
            nonce.Success.Should().BeTrue(csp);
            csp.Should().StartWith("default-src 'none'; style-src 'nonce-").And.Contain("img-src data:; form-action 'self'; frame-ancestors 'none'");
            string html = await response.Content.ReadAsStringAsync();
            html.Should().Contain($"<style nonce=\"{nonce.Groups[1].Value}\">", page);
            html.Should().NotContain("<script", page).And.NotContain(" style=\"", page).And.NotContain("http://", page).And.NotContain("https://", page);
        }
    }

    [Fact]
    public async Task Post_WithoutAntiforgeryToken_RefusedAndNothingAdded()
    {
        using HttpClient client = _host.Client();

        HttpResponseMessage response = await client.PostAsync("/emailguard/lists/add", new FormUrlEncodedContent(
            [new("kind", "Blocklist"), new("type", "Recipient"), new("value", "victim@example.com"), new("reason", "csrf")]));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "victim@example.com")).Should().BeNull();
    }

    [Fact]
    public async Task Post_WithToken_AddsAndRemoveAsksForConfirmationFirst()
    {
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");

        HttpResponseMessage added = await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com"), ("reason", "spam_trap")));
        added.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com"))!.CreatedBy.Should().Be("alice");

        HttpResponseMessage confirm = await client.PostAsync("/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com")));
        confirm.StatusCode.Should().Be(HttpStatusCode.OK);
        (await confirm.Content.ReadAsStringAsync()).Should().Contain("id=\"confirm\"").And.Contain("name=\"confirmed\" value=\"yes\"");
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com")).Should().NotBeNull("nothing is removed before confirmation");

        HttpResponseMessage removed = await client.PostAsync("/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com"), ("confirmed", "yes")));
        removed.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com")).Should().BeNull();
    }

    [Fact]
    public async Task ClearFlag_RecordsTheOperatorAsWhoClearedIt()
    {
        IEmailGuardFlags flags = _host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "t-42", EmailGuardFlagReasons.HighBounceRate, flaggedBy: "breaker");
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/flags");

        HttpResponseMessage cleared = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", "t-42"), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes")));

        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-42")).Should().BeEmpty();
        IReadOnlyList<EmailGuardFlagEvent> events = await flags.GetEventsAsync(new EmailGuardFlagEventQuery { PartyType = EmailGuardPartyType.Tenant, PartyId = "t-42" });
        EmailGuardFlagEvent clear = events.Single(e => e.Kind == EmailGuardFlagEventKind.Cleared);
        clear.CreatedBy.Should().Be("alice");
        clear.Comment.Should().NotBe("alice");
    }

    [Fact]
    public async Task EveryPage_HostileValues_Escaped()
    {
        IEmailSendGuard guard = _host.Services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < 5; i++)
        {
            await guard.CheckAsync(new OutboundEmail { To = ["a@example.com"], TenantId = ScriptTenant, UserId = ImgUser, Category = ScriptTenant, Sender = "x@example.com" });
        }

        await _host.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, ScriptTenant, ImgUser, addedBy: ScriptTenant);
        await _host.Services.GetRequiredService<IEmailGuardFlags>().FlagAsync(EmailGuardPartyType.Tenant, ImgUser, EmailGuardFlagReasons.HighBounceRate, flaggedBy: ScriptTenant);
        using HttpClient client = _host.Client();

        foreach (string page in Pages)
        {
            string html = await client.GetStringAsync(page);
            html.Should().NotContain("<script>", page).And.NotContain("<img src=x", page);
        }

        (await client.GetStringAsync("/emailguard/")).Should().Contain("&lt;script&gt;alert(").And.Contain("&lt;img src=x onerror=alert(");
        (await client.GetStringAsync("/emailguard/lists")).Should().Contain("&lt;script&gt;alert(").And.Contain("&quot;&gt;&lt;img");
        (await client.GetStringAsync("/emailguard/flags")).Should().Contain("&quot;&gt;&lt;img src=x");
        (await client.GetStringAsync("/emailguard/events")).Should().Contain("&quot;&gt;&lt;img src=x");
    }

    [Fact]
    public async Task Map_WithoutPolicyOutsideDevelopment_Throws()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Services.AddEmailGuard().AddSendGuard().AddDashboard();
        await using WebApplication app = builder.Build();

        Action map = () => app.MapEmailGuardDashboard("/emailguard");

        map.Should().Throw<InvalidOperationException>().WithMessage("*needs an authorization policy outside Development*");
    }

    [Fact]
    public async Task LocalOnly_LoopbackConnectionWithAForeignHost_Forbidden()
    {
        // Arrange: Development without a policy serves local requests only. A page on attacker.example whose name the
        // attacker re-points at 127.0.0.1 (DNS rebinding) is same-origin with the dashboard: the browser connects from
        // loopback and sends Host: attacker.example, and the page's script can read the forms' tokens and post them.
        await using DashboardHost host = await DashboardHost.StartAsync(environment: "Development", endpoints: app => app.MapEmailGuardDashboard("/local"));
        using HttpClient client = host.Client(user: null, roles: null);
        int port = host.Address.Port;

        async Task<HttpStatusCode> GetAsync(string hostHeader)
        {
            using HttpRequestMessage request = new(HttpMethod.Get, "/local/flags");
            request.Headers.Host = hostHeader;
            using HttpResponseMessage response = await client.SendAsync(request);
            return response.StatusCode;
        }

        // Act and assert
        (await GetAsync($"attacker.example:{port}")).Should().Be(HttpStatusCode.Forbidden, "a rebound name is not this machine's");
        (await GetAsync($"127.0.0.1.nip.io:{port}")).Should().Be(HttpStatusCode.Forbidden);
        (await GetAsync($"localhost:{port}")).Should().Be(HttpStatusCode.OK);
        (await GetAsync($"127.0.0.1:{port}")).Should().Be(HttpStatusCode.OK);
        (await GetAsync($"[::1]:{port}")).Should().Be(HttpStatusCode.OK);
        (await GetAsync($"app.dev.localhost:{port}")).Should().Be(HttpStatusCode.OK, "*.localhost names are the machine's own (RFC 6761), as .NET 10's templates use them");
    }

    [Fact]
    public async Task Map_WithoutAddDashboard_ThrowsSayingWhatToAdd()
    {
        WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        await using WebApplication app = builder.Build();

        Action map = () => app.MapEmailGuardDashboard("/emailguard");

        map.Should().Throw<InvalidOperationException>().WithMessage("*AddDashboard()*");
    }

    private static async Task<string> TokenAsync(HttpClient client, string page)
    {
        string html = await client.GetStringAsync(page);
        return DashboardPage.TokenPattern().Match(html).Groups[1].Value;
    }

    private static FormUrlEncodedContent Form(string token, params (string Name, string Value)[] fields)
        => new([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);

    [GeneratedRegex("'nonce-([^']+)'")]
    private static partial Regex NoncePattern();
}
