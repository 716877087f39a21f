using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests;

public sealed class ClientNetworkListTests
{
    private static Task<TestApp> StartAsync()
        => TestApp.StartAsync(
            s => s.AddEmailGuard().AddSendGuard().AddEndpointPolicies(o =>
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(1)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));

    private static IEmailGuardLists Lists(TestApp app) => app.App.Services.GetRequiredService<IEmailGuardLists>();

    [Fact]
    public async Task DenyCidr_AddressInside_403RevealingNothing_AddressOutsideCounted()
    {
        await using TestApp app = await StartAsync();
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24", "signup flood", addedBy: "ops@example.com");

        using HttpResponseMessage inside = await app.PostAsync("/signup", "203.0.113.200");
        using HttpResponseMessage outside = await app.PostAsync("/signup", "203.0.114.1");

        inside.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        string body = await inside.Content.ReadAsStringAsync();
        body.Should().NotContain("flood").And.NotContain("ops@").And.NotContain("203.0.113");
        using JsonDocument json = JsonDocument.Parse(body);
        json.RootElement.GetProperty("type").GetString().Should().Be(EmailGuardChallenge.DeniedProblemType);
        outside.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BanThroughListsOnThisInstance_VeryNextRequestRefused_UnbanAdmitsTheNextAgain()
    {
        // The table is read once before the ban, and the clock stands still: only the ban's own signal can make the
        // middleware read it again within the refresh interval.
        await using TestApp app = await TestApp.StartAsync(
            s => s.AddEmailGuard().AddSendGuard().AddEndpointPolicies(o =>
                o.AddPolicy("signup", p => p.PerClientIp(RateLimitRule.PerHour(100)))),
            a => a.MapPost("/signup", () => Results.Ok()).RequireEmailRateLimit("signup"));
        using HttpResponseMessage before = await app.PostAsync("/signup", "203.0.113.9");

        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24", "signup flood");
        using HttpResponseMessage banned = await app.PostAsync("/signup", "203.0.113.9");
        await Lists(app).RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.0/24");
        using HttpResponseMessage unbanned = await app.PostAsync("/signup", "203.0.113.9");

        before.StatusCode.Should().Be(HttpStatusCode.OK);
        banned.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        unbanned.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task AllowInsideDeny_LongestPrefixWins_AllowedAddressBypassesLimits()
    {
        await using TestApp app = await StartAsync();
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "10.0.0.0/8", "bad range");
        await Lists(app).AddAsync(EmailGuardListKind.Allowlist, EmailGuardPartyType.ClientNetwork, "10.1.2.0/24", "office");

        var office = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await app.PostAsync("/signup", "10.1.2.3");
            office.Add(response.StatusCode);
        }

        using HttpResponseMessage rest = await app.PostAsync("/signup", "10.1.3.3");

        office.Should().OnlyContain(s => s == HttpStatusCode.OK, "the allow list bypasses the one-per-hour limit");
        rest.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task DenyIPv6Network_AnyAddressInside403_IPv4MappedFormOfDeniedIPv4Too()
    {
        await using TestApp app = await StartAsync();
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:abcd::/48", "hosting range");
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.7", "bot");

        using HttpResponseMessage inside = await app.PostAsync("/signup", "2001:db8:abcd:ffff::1");
        using HttpResponseMessage outside = await app.PostAsync("/signup", "2001:db8:abce::1");
        using HttpResponseMessage mapped = await app.PostAsync("/signup", "::ffff:198.51.100.7");

        inside.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        outside.StatusCode.Should().Be(HttpStatusCode.OK);
        mapped.StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task DenyIPv4_Nat64And6to4FormsOfIt403_EntryNaming6to4RangeStillMatches()
    {
        await using TestApp app = await StartAsync();
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "198.51.100.0/24", "bot farm");
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2002:c000:200::/40", "6to4 of 192.0.2.0/24");

        using HttpResponseMessage nat64 = await app.PostAsync("/signup", "64:ff9b::198.51.100.7");
        using HttpResponseMessage sixToFour = await app.PostAsync("/signup", "2002:c633:6407:5::1");
        using HttpResponseMessage tunnelRange = await app.PostAsync("/signup", "2002:c000:201::1");
        using HttpResponseMessage other = await app.PostAsync("/signup", "64:ff9b::203.0.113.7");

        nat64.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        sixToFour.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        tunnelRange.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        other.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task DenyEntry_Expires_ThenRequestsCountAgain()
    {
        await using TestApp app = await StartAsync();
        await Lists(app).AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "203.0.113.7", "cool-off", duration: TimeSpan.FromMinutes(30));

        using HttpResponseMessage during = await app.PostAsync("/signup", "203.0.113.7");
        app.Time.Advance(TimeSpan.FromMinutes(31));
        using HttpResponseMessage after = await app.PostAsync("/signup", "203.0.113.7");

        during.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        after.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task ListEntries_NormalizedAndListedThroughTheSameApi_InvalidRejected()
    {
        await using TestApp app = await StartAsync();
        IEmailGuardLists lists = Lists(app);

        EmailGuardListEntry entry = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:DB8:1:2:3::7/64", "r", addedBy: "me");
        EmailGuardListPage page = await lists.ListAsync(new EmailGuardListQuery { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.ClientNetwork });
        Func<Task> invalid = async () => await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "10.0.0.0/33", "r");
        bool removed = await lists.RemoveAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.ClientNetwork, "2001:db8:1:2::/64");

        entry.Value.Should().Be("2001:db8:1:2::/64");
        entry.CreatedBy.Should().Be("me");
        page.Items.Should().ContainSingle().Which.Value.Should().Be("2001:db8:1:2::/64");
        await invalid.Should().ThrowAsync<ArgumentException>();
        removed.Should().BeTrue();
    }

    [Fact]
    public void Table_ThousandsOfEntries_LongestPrefixMatch()
    {
        var entries = new List<EmailGuardListEntry>();
        for (int i = 0; i < 5000; i++)
        {
            entries.Add(Entry(EmailGuardListKind.Blocklist, $"10.{i / 256}.{i % 256}.0/24"));
        }

        entries.Add(Entry(EmailGuardListKind.Allowlist, "10.3.4.5/32"));
        entries.Add(Entry(EmailGuardListKind.Blocklist, "2001:db8::/32"));
        entries.Add(Entry(EmailGuardListKind.Allowlist, "2001:db8:1::/48"));
        var table = new ClientNetworkTable(entries);
        DateTimeOffset now = TestApp.Start;

        table.Match(IPAddress.Parse("10.3.4.6"), now)!.Kind.Should().Be(EmailGuardListKind.Blocklist);
        table.Match(IPAddress.Parse("10.3.4.5"), now)!.Kind.Should().Be(EmailGuardListKind.Allowlist);
        table.Match(IPAddress.Parse("11.0.0.1"), now).Should().BeNull();
        table.Match(IPAddress.Parse("2001:db8:2::1"), now)!.Kind.Should().Be(EmailGuardListKind.Blocklist);
        table.Match(IPAddress.Parse("2001:db8:1:ffff::1"), now)!.Kind.Should().Be(EmailGuardListKind.Allowlist);
        table.Match(IPAddress.Parse("2001:db9::1"), now).Should().BeNull();
        table.Count.Should().Be(5003);
    }

    private static EmailGuardListEntry Entry(EmailGuardListKind kind, string value) => new()
    {
        Kind = kind,
        PartyType = EmailGuardPartyType.ClientNetwork,
        Value = value,
        Reason = "test",
        CreatedAt = TestApp.Start,
    };
}
