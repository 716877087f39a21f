using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>The dashboard against links and forms an attacker writes for an operator to follow.</summary>
public sealed partial class HostileDashboardTests : IAsyncLifetime
{
    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("msg")]
    [InlineData("err")]
    public async Task Notice_FromALinkAnyoneCanWrite_NotShown(string name)
    {
        // Arrange: the notice an action leaves after its redirect came from the query string, so a link in a chat
        // message showed any text, styled as the dashboard's own, on the dashboard's origin.
        const string Lure = "Your session expired. Sign in again at https://emailguard-login.example to continue.";
        using HttpClient client = _host.Client();

        // Act
        string page = await client.GetStringAsync($"/emailguard/flags?{name}={Uri.EscapeDataString(Lure)}");

        // Assert
        page.Should().NotContain("emailguard-login.example").And.NotContain("id=\"dashboard-message\"").And.NotContain("id=\"dashboard-error\"");
    }

    [Fact]
    public async Task Notice_OfTheDashboardsOwnAction_ShownAfterItsRedirect()
    {
        // Arrange
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");

        // Act
        HttpResponseMessage added = await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com"), ("reason", "spam_trap")));
        string page = await client.GetStringAsync(added.Headers.Location!.ToString());
        HttpResponseMessage refused = await client.PostAsync("/emailguard/flags/apply", Form(token, ("type", "Recipient"), ("id", "x"), ("reason", "manual"), ("confirmed", "yes")));
        string error = await client.GetStringAsync(refused.Headers.Location!.ToString());

        // Assert
        added.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        page.Should().Contain("id=\"dashboard-message\"").And.Contain("Added Recipient spam@example.com to the blocklist.");
        error.Should().Contain("id=\"dashboard-error\"").And.Contain("Not done: &#x27;Recipient&#x27; is not a party type here.");
    }

    [Fact]
    public async Task FlagAction_PartyTypeWrittenAsAList_IsRefusedNotReadAsTheMemberItsNumbersMake()
    {
        // Arrange: Enum.TryParse reads "Sender,RecipientDomain" as 1 | 2, the tenant's number, so the action flagged the
        // tenant "acme" though the form named no tenant.
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/flags");

        // Act
        HttpResponseMessage refused = await client.PostAsync("/emailguard/flags/apply", Form(token, ("type", "Sender,RecipientDomain"), ("id", "acme"), ("reason", "manual"), ("confirmed", "yes")));
        string error = await client.GetStringAsync(refused.Headers.Location!.ToString());

        // Assert
        error.Should().Contain("id=\"dashboard-error\"").And.Contain("Not done: &#x27;Sender,RecipientDomain&#x27; is not a party type here.");
        error.Should().NotContain("Flagged");
    }

    [Theory]
    [InlineData("//attacker.example/phish")]
    [InlineData("/\\attacker.example/phish")]
    [InlineData("/somewhere-else")]
    public async Task ConfirmPage_CancelLink_StaysOnTheDashboard(string path)
    {
        // Arrange: the Cancel link went back to the Referer's path and query when its host was the dashboard's; a
        // path of "//attacker.example/…" is a link to another site.
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");
        using HttpRequestMessage request = new(HttpMethod.Post, "/emailguard/lists/remove")
        {
            Content = Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com")),
        };
        request.Headers.Referrer = new Uri(_host.Address.GetLeftPart(UriPartial.Authority) + path);

        // Act
        HttpResponseMessage confirm = await client.SendAsync(request);
        string page = await confirm.Content.ReadAsStringAsync();

        // Assert
        page.Should().Contain("id=\"confirm\"");
        CancelPattern().Match(page).Groups[1].Value.Should().Be("/emailguard/");
    }

    [Fact]
    public async Task ConfirmPage_CancelLink_BackToTheDashboardPageItCameFrom()
    {
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");
        using HttpRequestMessage request = new(HttpMethod.Post, "/emailguard/lists/remove")
        {
            Content = Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com")),
        };
        request.Headers.Referrer = new Uri(_host.Address, "/emailguard/lists?kind=Allowlist");

        string page = await (await client.SendAsync(request)).Content.ReadAsStringAsync();

        CancelPattern().Match(page).Groups[1].Value.Should().Be("/emailguard/lists?kind=Allowlist");
    }

    [Fact]
    public async Task ConfirmPage_AppRenamedTheAntiforgeryField_ConfirmingStillWorks()
    {
        // Arrange: an app that names its anti-forgery field "csrf". The confirmation page copied every posted field
        // but those starting with "__", so the old token came back beside the new one and every confirmation was refused.
        await using DashboardHost host = await DashboardHost.StartAsync(services: s => s.AddAntiforgery(o => o.FormFieldName = "csrf"));
        await host.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com", "spam_trap");
        using HttpClient client = host.Client();
        string token = Regex.Match(await client.GetStringAsync("/emailguard/lists"), "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
        HttpResponseMessage confirm = await client.PostAsync("/emailguard/lists/remove", new FormUrlEncodedContent(
            [new("csrf", token), new("kind", "Blocklist"), new("type", "Recipient"), new("value", "spam@example.com")]));
        string page = await confirm.Content.ReadAsStringAsync();
        MatchCollection fields = Regex.Matches(page, "<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">");

        // Act: submit the confirmation page's form as a browser would.
        HttpResponseMessage removed = await client.PostAsync("/emailguard/lists/remove", new FormUrlEncodedContent(
            fields.Select(f => new KeyValuePair<string, string>(f.Groups[1].Value, System.Net.WebUtility.HtmlDecode(f.Groups[2].Value)))));

        // Assert
        fields.Count(f => f.Groups[1].Value == "csrf").Should().Be(1, "one token: the confirmation page's own");
        removed.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await host.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com")).Should().BeNull();
    }

    [Theory]
    [InlineData("%20")]
    [InlineData("%09%0A")]
    public async Task FlagsLookup_BlankId_PageRendersWithoutALookup(string id)
    {
        // Arrange: the lookup passed any non-empty id to the flags, which refuse a blank one with an ArgumentException,
        // so a link (or a stray space in the form) answered 500 instead of the page.
        using HttpClient client = _host.Client();

        // Act
        HttpResponseMessage response = await client.GetAsync($"/emailguard/flags?type=User&id={id}");

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Contain("id=\"active-flags\"");
    }

    [Fact]
    public async Task ListsPage_EveryEntryItsOwnReason_CountByReasonShowsABoundedNumber()
    {
        // Arrange: an app that writes a per-entry detail into the reason (here the bounce's diagnostic, which the receiving
        // server writes), so no two entries share one. The count by reason listed every reason: the whole list, each view.
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        const int Entries = ListsPage.MaxReasons + 15;
        for (int i = 0; i < Entries; i++)
        {
            await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"gone{i}@example.com", $"550 5.1.1 <gone{i}@example.com>: no such user");
        }

        using HttpClient client = _host.Client();

        // Act
        string page = await client.GetStringAsync("/emailguard/lists");

        // Assert
        string reasons = page[page.IndexOf("id=\"list-reasons\"", StringComparison.Ordinal)..];
        reasons = reasons[..reasons.IndexOf("</table>", StringComparison.Ordinal)];
        (reasons.Split("<tr>").Length - 2).Should().Be(ListsPage.MaxReasons, "a header row, then the bounded reasons");
        page.Should().Contain("id=\"more-reasons\">15 more reasons");
        page.Should().Contain($"{Entries} entries.");
    }

    [Fact]
    public async Task ConfirmPage_CarriesOnlyTheActionsFields_NotWhatElseWasPosted()
    {
        // Arrange: the confirmation page copied every posted field into its form, HTML-encoded: any name, any number, any
        // length, so one post of a few megabytes of '<' came back four times over, and fields the action never reads
        // were posted on with the confirmation.
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");

        // Act
        HttpResponseMessage confirm = await client.PostAsync("/emailguard/lists/remove", Form(
            token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com"), ("note", new string('<', 100_000)), ("redirect", "https://attacker.example/")));
        string page = await confirm.Content.ReadAsStringAsync();

        // Assert
        page.Should().Contain("id=\"confirm\"");
        HiddenPattern().Matches(page).Select(m => m.Groups[1].Value).Should().BeEquivalentTo("__RequestVerificationToken", "kind", "type", "value", "confirmed");
        page.Length.Should().BeLessThan(20_000);
    }

    [Theory]
    [InlineData("/emailguard/lists/remove", "value", DashboardActions.MaxFieldLength)]
    [InlineData("/emailguard/flags/clear", "id", DashboardActions.MaxFieldLength)]
    [InlineData("/emailguard/lists/add", "reason", DashboardActions.MaxFieldLength)]
    [InlineData("/emailguard/flags/apply", "id", DashboardActions.MaxFieldLength)]
    public async Task Action_AValueLongerThanAnyFormWrites_RefusedWithoutEchoingIt(string action, string field, int maxLength)
    {
        // Arrange: no form of the dashboard writes a value this long; it was echoed into the confirmation page, or into
        // the notice the redirect carries in its Location and the next request's query string.
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");
        (string, string)[] fields = [("kind", "Blocklist"), ("type", action.Contains("/flags/", StringComparison.Ordinal) ? "User" : "Recipient"), ("value", "spam@example.com"), ("id", "u1"), ("reason", "manual")];
        fields = [.. fields.Select(f => f.Item1 == field ? (field, new string('x', maxLength + 1)) : f)];

        // Act
        HttpResponseMessage response = await client.PostAsync(action, Form(token, fields));
        string shown = await client.GetStringAsync(response.Headers.Location!.ToString());

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        response.Headers.Location!.ToString().Length.Should().BeLessThan(2_000);
        shown.Should().Contain("id=\"dashboard-error\"").And.Contain(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the {field} is longer than {maxLength:N0} characters"));
        (await _host.Services.GetRequiredService<IEmailGuardLists>().ListAsync(new EmailGuardListQuery())).TotalCount.Should().Be(0);
    }

    [Theory]
    [InlineData("/emailguard/lists/add", "kind=Blocklist&type=Recipient&value=a%00%40example.com&reason=x")]
    [InlineData("/emailguard/tenants/limits/reload", "id=%00")]
    [InlineData("/emailguard/flags/apply", "type=Tenant&id=t-1&reason=manual&confirmed=yes&%00=1")]
    public async Task Action_AFormNoBrowserSends_RefusedAs400_NotAServerError(string action, string fields)
    {
        // Arrange: ASP.NET Core's form reader refuses a field with a NUL, and the anti-forgery check, which reads the form
        // first, threw that as an AntiforgeryValidationException out of the action: a 500 and an error logged with its
        // stack trace, for a post a page of another site can make the operator's browser send.
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/flags");
        using StringContent body = new($"__RequestVerificationToken={Uri.EscapeDataString(token)}&{fields}", System.Text.Encoding.ASCII, "application/x-www-form-urlencoded");

        // Act
        HttpResponseMessage response = await client.PostAsync(action, body);

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("id=\"antiforgery-refused\"");
        (await _host.Services.GetRequiredService<IEmailGuardFlags>().GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-1")).Should().BeEmpty();
    }

    [Fact]
    public async Task AppWithACredentialedCorsPolicy_AScriptOfTheOriginItTrustsReadsNoPageAndActsOnNothing()
    {
        // Arrange: an app whose default CORS policy lets its own front end, another origin of the same site, call its API
        // with the user's cookies. The dashboard fell under that policy too: a script on that origin (an XSS there, a
        // compromised package) read the operator's pages with their cookies, anti-forgery tokens included, and posted
        // the actions with them (a form post is a simple request: no preflight asks first).
        const string FrontEnd = "https://app.example";
        await using DashboardHost host = await DashboardHost.StartAsync(
            services: s => s.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(FrontEnd).AllowCredentials().AllowAnyHeader().AllowAnyMethod())),
            endpoints: app =>
            {
                app.UseCors();
                app.MapGet("/api/ping", () => "pong");
            });
        IEmailGuardLists lists = host.Services.GetRequiredService<IEmailGuardLists>();
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com", "spam_trap");
        using HttpClient client = host.Client();
        string token = await TokenAsync(client, "/emailguard/lists");
        string[] pages = ["/emailguard/", "/emailguard/policies", "/emailguard/lists", "/emailguard/flags", "/emailguard/events"];

        // Act: what the front end's fetch(url, { credentials: "include" }) sends, and an operator following a link from
        // elsewhere (an alert in Slack).
        HttpResponseMessage api = await SendAsync(client, HttpMethod.Get, "/api/ping", FrontEnd, "cors", "same-site");
        List<HttpResponseMessage> read = [];
        foreach (string page in pages)
        {
            read.Add(await SendAsync(client, HttpMethod.Get, page, FrontEnd, "cors", "same-site"));
        }

        HttpResponseMessage posted = await SendAsync(
            client, HttpMethod.Post, "/emailguard/lists/remove", FrontEnd, "cors", "same-site",
            Form(token, ("kind", "Blocklist"), ("type", "Recipient"), ("value", "spam@example.com"), ("confirmed", "yes")));
        List<HttpResponseMessage> followed = [];
        foreach (string page in pages)
        {
            followed.Add(await SendAsync(client, HttpMethod.Get, page, origin: null, "navigate", "cross-site"));
        }

        // Assert: the app's own endpoint keeps its policy; the dashboard answers the script with nothing to read.
        api.Headers.GetValues("Access-Control-Allow-Origin").Should().Equal(FrontEnd);
        foreach (HttpResponseMessage response in read.Append(posted))
        {
            string uri = response.RequestMessage!.RequestUri!.ToString();
            response.StatusCode.Should().Be(HttpStatusCode.Forbidden, uri);
            (await response.Content.ReadAsStringAsync()).Should().BeEmpty(uri);
        }

        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "spam@example.com")).Should().NotBeNull();
        followed.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.OK, r.RequestMessage!.RequestUri!.ToString()));
    }

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient client, HttpMethod method, string path, string? origin, string mode, string site, HttpContent? content = null)
    {
        using HttpRequestMessage request = new(method, path) { Content = content };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        request.Headers.Add("Sec-Fetch-Mode", mode);
        request.Headers.Add("Sec-Fetch-Site", site);
        HttpResponseMessage response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static async Task<string> TokenAsync(HttpClient client, string page)
        => DashboardPage.TokenPattern().Match(await client.GetStringAsync(page)).Groups[1].Value;

    private static FormUrlEncodedContent Form(string token, params (string Name, string Value)[] fields)
        => new([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\"")]
    private static partial Regex HiddenPattern();

    [GeneratedRegex("<a id=\"cancel\" href=\"([^\"]*)\"")]
    private static partial Regex CancelPattern();
}
