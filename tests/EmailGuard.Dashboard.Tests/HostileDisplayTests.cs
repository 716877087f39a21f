using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// The dashboard against ids an attacker chose to look like someone else's: what the operator reads must be the value,
/// whatever invisible or reordering characters it carries.
/// </summary>
public sealed partial class HostileDisplayTests : IAsyncLifetime
{
    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("\u202Eemca", "\\u202Eemca")] // a right-to-left override: a browser shows "acme"
    [InlineData("ac\u200Bme", "ac\\u200Bme")] // a zero-width space: "acme"
    [InlineData("acme\u2067", "acme\\u2067")] // a right-to-left isolate left open: "acme", and it reorders what follows it
    [InlineData("acme\n", "acme\\u000A")] // a line break: "acme " in a table cell
    public async Task LookalikeTenantId_ShownWithItsHiddenCharacter_OnEveryPageTheConfirmationAndTheNotice(string id, string shown)
    {
        // Arrange: the real tenant acme is suspended, and a rogue tenant whose id reads "acme" in a browser is flagged
        // too. Every page wrote the id HTML-encoded, and the browser rendered what the encoding kept: the override or the
        // invisible character. The operator asked to lift acme's suspension saw two acme rows, and the question "Clear
        // the ... flag of Tenant acme?" when clearing the rogue's.
        IEmailGuardFlags flags = _host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await flags.FlagAsync(EmailGuardPartyType.Tenant, id, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "breaker");
        await _host.Services.GetRequiredService<IEmailGuardLists>().AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id, "abuse");
        using HttpClient client = _host.Client();

        // Act
        string flagsPage = await client.GetStringAsync("/emailguard/flags");
        string lookup = await client.GetStringAsync("/emailguard/flags?type=Tenant&id=" + Uri.EscapeDataString(id));
        string events = await client.GetStringAsync("/emailguard/events");
        string lists = await client.GetStringAsync("/emailguard/lists");
        string token = DashboardPage.TokenPattern().Match(flagsPage).Groups[1].Value;
        HttpResponseMessage asked = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", id), ("reason", EmailGuardFlagReasons.HighBounceRate)));
        string question = await asked.Content.ReadAsStringAsync();
        HttpResponseMessage cleared = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", id), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes")));
        string notice = await client.GetStringAsync(cleared.Headers.Location!.ToString());

        // Assert: every page shows the character, and no text the browser renders carries it; the forms still carry the
        // id itself (the clear below cleared the rogue's flag, not acme's).
        foreach ((string name, string html) in new[] { ("flags", flagsPage), ("lookup", lookup), ("events", events), ("lists", lists), ("question", question), ("notice", notice) })
        {
            string text = RenderedText(html);
            text.Should().Contain(shown, name);
            text.EnumerateRunes().Select(Rune.GetUnicodeCategory)
                .Should().NotContain([UnicodeCategory.Format, UnicodeCategory.Control, UnicodeCategory.LineSeparator, UnicodeCategory.ParagraphSeparator], name);
        }

        question.Should().Contain("id=\"confirm\"");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, id)).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme")).Should().ContainSingle();
    }

    /// <summary>
    /// The text a browser renders from a page: its markup (attributes with it) left out, and references decoded. The
    /// page's own line breaks (in its style block) are left out too: a line break the text still has was a value's.
    /// </summary>
    private static string RenderedText(string html) => WebUtility.HtmlDecode(TagPattern().Replace(html.Replace("\n", string.Empty, StringComparison.Ordinal), " "));

    private static FormUrlEncodedContent Form(string token, params (string Name, string Value)[] fields)
        => new([new("__RequestVerificationToken", token), .. fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))]);

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex TagPattern();
}
