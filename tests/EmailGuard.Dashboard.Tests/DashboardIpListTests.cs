using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The IP deny and allow lists on the Lists page: the client-network entries the endpoints apply, with search, add
/// and remove through the anti-forgery token and the confirmation step, and hostile values escaped.
/// </summary>
public sealed class DashboardIpListTests : IAsyncLifetime
{
    private const string Hostile = "\"><img src=x onerror=alert('ip')>";

    private DashboardHost _host = null!;

    private IEmailGuardLists Lists => _host.Services.GetRequiredService<IEmailGuardLists>();

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task IpDenyList_AddThenRemoveConfirmed_StoresTheNetworkAndGoesBackToTheIpList()
    {
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists?kind=Blocklist&type=ClientNetwork");

        HttpResponseMessage added = await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", "2001:DB8:abcd::1/48"), ("reason", "signup_flood")));

        added.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        added.Headers.Location!.ToString().Should().StartWith("/emailguard/lists?kind=Blocklist&type=ClientNetwork&msg=");
        (await Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:abcd::/48"))!.CreatedBy.Should().Be("alice");
        string page = await client.GetStringAsync(added.Headers.Location!.ToString());
        page.Should().Contain("id=\"ip-list-help\"").And.Contain("<a id=\"ip-deny-tab\"");
        EntryRows(page).Should().ContainSingle().Which.Should().Contain("2001:db8:abcd::/48").And.Contain("signup_flood");

        HttpResponseMessage confirm = await client.PostAsync("/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", "2001:db8:abcd::/48")));
        (await confirm.Content.ReadAsStringAsync()).Should().Contain("id=\"confirm\"").And.Contain("Remove ClientNetwork 2001:db8:abcd::/48 from the blocklist?");
        (await Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:abcd::/48")).Should().NotBeNull("nothing is removed before confirmation");

        HttpResponseMessage removed = await client.PostAsync("/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", "2001:db8:abcd::/48"), ("confirmed", "yes")));
        removed.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await Lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:abcd::/48")).Should().BeNull();
        EntryRows(await client.GetStringAsync(removed.Headers.Location!.ToString())).Should().BeEmpty();
    }

    /// <summary>
    /// Refusing only <c>/0</c> let an operator allowlist every client in two halves, and blocklist every client in one.
    /// </summary>
    [Theory]
    [InlineData("Allowlist", "0.0.0.0/1")]
    [InlineData("Allowlist", "128.0.0.0/1")]
    [InlineData("Allowlist", "::/1")]
    [InlineData("Blocklist", "0.0.0.0/0")]
    [InlineData("Blocklist", "::/0")]
    public async Task IpList_NetworkWiderThanTheBound_RefusedAndNothingStored(string kind, string network)
    {
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, $"/emailguard/lists?kind={kind}&type=ClientNetwork");

        HttpResponseMessage response = await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", kind), ("type", "ClientNetwork"), ("value", network), ("reason", "office")));

        response.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        response.Headers.Location!.ToString().Should().Contain("err=").And.NotContain("msg=");
        (await client.GetStringAsync(response.Headers.Location!.ToString())).Should().Contain("id=\"dashboard-error\"").And.Contain("or narrower");
        (await Lists.ListAsync(new EmailGuardListQuery { Kind = Enum.Parse<EmailGuardListKind>(kind), PartyType = EmailGuardPartyType.ClientNetwork })).TotalCount.Should().Be(0);
    }

    [Fact]
    public async Task IpAddWithoutToken_Refused()
    {
        using HttpClient client = _host.Client();

        HttpResponseMessage response = await client.PostAsync("/emailguard/lists/add", new FormUrlEncodedContent(
            [new("kind", "Allowlist"), new("type", "ClientNetwork"), new("value", "0.0.0.0/0"), new("reason", "csrf")]));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await Lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Allowlist, PartyType = EmailGuardPartyType.ClientNetwork })).TotalCount.Should().Be(0);
    }

    [Fact]
    public async Task IpAllowList_Search_ShowsOnlyMatchingNetworksAndNoOtherParty()
    {
        await Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, "10.1.0.0/16", "office");
        await Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, "10.2.0.0/16", "vpn");
        await Lists.AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.User, "10.1.0.0-user", "not a network");
        using HttpClient client = _host.Client();

        string all = await client.GetStringAsync("/emailguard/lists?kind=Allowlist&type=ClientNetwork");
        string searched = await client.GetStringAsync("/emailguard/lists?kind=Allowlist&type=ClientNetwork&q=10.1.");

        EntryRows(all).Should().HaveCount(2);
        EntryRows(searched).Should().ContainSingle().Which.Should().Contain("10.1.0.0/16");
    }

    [Fact]
    public async Task IpDenyList_HostileValue_RefusedWithTheErrorEscaped_AndNothingStored()
    {
        using HttpClient client = _host.Client();
        string token = await TokenAsync(client, "/emailguard/lists?kind=Blocklist&type=ClientNetwork");

        HttpResponseMessage response = await client.PostAsync("/emailguard/lists/add", Form(token, ("kind", "Blocklist"), ("type", "ClientNetwork"), ("value", Hostile), ("reason", Hostile)));

        response.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        string shown = await client.GetStringAsync(response.Headers.Location!.ToString());
        shown.Should().Contain("id=\"dashboard-error\"").And.NotContain("<img src=x");
        (await Lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.ClientNetwork })).TotalCount.Should().Be(0);
    }

    [Fact]
    public async Task IpDenyList_HostileReasonAndSearch_Escaped()
    {
        await Lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "192.0.2.0/24", Hostile, addedBy: Hostile);
        using HttpClient client = _host.Client();

        string page = await client.GetStringAsync("/emailguard/lists?kind=Blocklist&type=ClientNetwork&q=" + Uri.EscapeDataString("192.0.2"));
        string searched = await client.GetStringAsync("/emailguard/lists?kind=Blocklist&type=ClientNetwork&q=" + Uri.EscapeDataString(Hostile));

        page.Should().NotContain("<img src=x").And.Contain("&quot;&gt;&lt;img src=x onerror=alert(");
        EntryRows(page).Should().ContainSingle();
        searched.Should().NotContain("<img src=x").And.Contain("value=\"&quot;&gt;&lt;img");
    }

    private static string[] EntryRows(string html) => html.Split("<tr class=\"entry\">")[1..];

    private static async Task<string> TokenAsync(HttpClient client, string page)
        => DashboardPage.TokenPattern().Match(await client.GetStringAsync(page)).Groups[1].Value;

    private static FormUrlEncodedContent Form(string token, params (string Name, string Value)[] fields)
        => new([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);
}
