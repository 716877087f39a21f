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

    [Theory]
    [InlineData("\u0430cme", "\\u0430cme [mixed scripts]")] // a Cyrillic а (U+0430): reads "acme"
    [InlineData("ac\u03BFme", "ac\\u03BFme [mixed scripts]")] // a Greek omicron
    [InlineData("\uFF41cme", "\\uFF41cme [mixed scripts]")] // a fullwidth a
    public async Task MixedScriptTenantId_SpelledOutAndMarked_OnEveryPageTheConfirmationAndTheNotice(string id, string shown)
    {
        // Arrange: the real tenant acme is suspended, and a rogue tenant whose id is acme written with one letter of
        // another script is flagged and blocklisted too. Every page showed it as "acme".
        IEmailGuardFlags flags = _host.Services.GetRequiredService<IEmailGuardFlags>();
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "acme", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await flags.FlagAsync(EmailGuardPartyType.Tenant, id, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "breaker");
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id, "abuse");
        using HttpClient client = _host.Client();

        // Act
        string flagsPage = await client.GetStringAsync("/emailguard/flags");
        string lookup = await client.GetStringAsync("/emailguard/flags?type=Tenant&id=" + Uri.EscapeDataString(id));
        string events = await client.GetStringAsync("/emailguard/events");
        string listsPage = await client.GetStringAsync("/emailguard/lists");
        string token = DashboardPage.TokenPattern().Match(flagsPage).Groups[1].Value;
        HttpResponseMessage asked = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", id), ("reason", EmailGuardFlagReasons.HighBounceRate)));
        string question = await asked.Content.ReadAsStringAsync();
        HttpResponseMessage cleared = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", id), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes")));
        string notice = await client.GetStringAsync(cleared.Headers.Location!.ToString());
        HttpResponseMessage removed = await client.PostAsync(
            "/emailguard/lists/remove", Form(token, ("kind", "Blocklist"), ("type", "Tenant"), ("value", id), ("confirmed", "yes")));
        string removedNotice = await client.GetStringAsync(removed.Headers.Location!.ToString());

        // Assert: the rendered text never has the lookalike letter, only its spelling and the marker; the real acme is
        // shown plain. The forms carry the id itself: the clear and the remove acted on the rogue, not on acme.
        foreach ((string name, string html) in new[] { ("flags", flagsPage), ("lookup", lookup), ("events", events), ("lists", listsPage), ("question", question), ("notice", notice), ("removed", removedNotice) })
        {
            string text = RenderedText(html);
            text.Should().Contain(shown, name);
            text.Should().NotContain(id, name);
        }

        RenderedText(flagsPage).Should().Contain("acme").And.NotContain("acme [mixed scripts]");
        question.Should().Contain("id=\"confirm\"");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, id)).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme")).Should().ContainSingle();
        (await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, id)).Should().BeNull();
    }

    [Fact]
    public async Task TenantIdWhollyInCyrillicLettersThatLookLatin_SpelledOutAndRead_OnTheFlagsPageTheLookupTheEventsAndTheConfirmation()
    {
        // Arrange: the real tenant ace is suspended, and a rogue tenant "асе" (Cyrillic а с е, U+0430 U+0441 U+0435),
        // which mixes no scripts, is flagged too. Every page showed two "ace" rows, and the question "Clear the ... flag
        // of Tenant ace?" when clearing the rogue's.
        const string Rogue = "\u0430\u0441\u0435";
        const string Shown = "\\u0430\\u0441\\u0435 [looks like Latin: ace]";
        IEmailGuardFlags flags = _host.Services.GetRequiredService<IEmailGuardFlags>();
        await flags.FlagAsync(EmailGuardPartyType.Tenant, "ace", EmailGuardFlagReasons.Manual, flaggedBy: "ops");
        await flags.FlagAsync(EmailGuardPartyType.Tenant, Rogue, EmailGuardFlagReasons.HighBounceRate, flaggedBy: "breaker");
        using HttpClient client = _host.Client();

        // Act
        string flagsPage = await client.GetStringAsync("/emailguard/flags");
        string lookup = await client.GetStringAsync("/emailguard/flags?type=Tenant&id=" + Uri.EscapeDataString(Rogue));
        string events = await client.GetStringAsync("/emailguard/events");
        string token = DashboardPage.TokenPattern().Match(flagsPage).Groups[1].Value;
        HttpResponseMessage asked = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", Rogue), ("reason", EmailGuardFlagReasons.HighBounceRate)));
        string question = await asked.Content.ReadAsStringAsync();
        HttpResponseMessage cleared = await client.PostAsync("/emailguard/flags/clear", Form(token, ("type", "Tenant"), ("id", Rogue), ("reason", EmailGuardFlagReasons.HighBounceRate), ("confirmed", "yes")));
        string notice = await client.GetStringAsync(cleared.Headers.Location!.ToString());

        // Assert: the rogue's letters are spelled out with what they read as, the real ace is shown plain, and the
        // clear acted on the rogue.
        foreach ((string name, string html) in new[] { ("flags", flagsPage), ("lookup", lookup), ("events", events), ("question", question), ("notice", notice) })
        {
            string text = RenderedText(html);
            text.Should().Contain(Shown, name);
            text.Should().NotContain(Rogue, name);
        }

        RenderedText(flagsPage).Should().Contain(" ace ", "the real tenant is shown plain").And.NotContain(" ace [looks like Latin");
        question.Should().Contain("id=\"confirm\"");
        RenderedText(question).Should().Contain("Tenant " + Shown);
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, Rogue)).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "ace")).Should().ContainSingle();
    }

    [Fact]
    public async Task ListEntries_LookalikeDomainAndSender_ShowTheirUnicodeFormMarked_AWhollyCyrillicOrJapaneseOneUnmarked()
    {
        // Arrange: the guard keeps a domain in punycode and refuses a label mixing Latin with Cyrillic or Greek, but not
        // one mixing Latin with Armenian (gօօgle.com, U+0585), nor a label wholly Cyrillic under .com (аррӏе.com); an
        // address's domain likewise (its local part must be ASCII).
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        EmailGuardListEntry armenian = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "g\u0585\u0585gle.com", "phishing");
        EmailGuardListEntry cyrillic = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "\u0430\u0440\u0440\u04CF\u0435.com", "phishing");
        EmailGuardListEntry sender = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Sender, "admin@g\u0585\u0585gle.com", "phishing");
        EmailGuardListEntry russian = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.RecipientDomain, "\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444", "customer");
        EmailGuardListEntry japanese = await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, "\u682A\u5F0F\u4F1A\u793E\u3055\u304F\u3089", "customer");
        using HttpClient client = _host.Client();

        // Act
        string text = RenderedText(await client.GetStringAsync("/emailguard/lists"));

        // Assert: the punycode is shown with its Unicode form, spelled out where it mixes scripts, as is the sender.
        armenian.Value.Should().Be("xn--ggle-vifa.com", "the guard keeps a domain in its ASCII (punycode) form");
        cyrillic.Value.Should().Be("xn--80ak6aa92e.com");
        russian.Value.Should().Be("xn--e1afmkfd.xn--p1ai");
        sender.Value.Should().Be("admin@xn--ggle-vifa.com");
        text.Should().Contain("xn--ggle-vifa.com (g\\u0585\\u0585gle.com) [mixed scripts]");
        text.Should().Contain("xn--80ak6aa92e.com (\\u0430\\u0440\\u0440\\u04CF\\u0435.com) [mixed scripts]", "wholly Cyrillic but for .com, it would read apple.com");
        text.Should().Contain("admin@xn--ggle-vifa.com (g\\u0585\\u0585gle.com) [mixed scripts]");
        text.Should().Contain("xn--e1afmkfd.xn--p1ai (\u043F\u0440\u0438\u043C\u0435\u0440.\u0440\u0444)").And.NotContain("\u0440\u0444) [mixed scripts]");
        text.Should().Contain(japanese.Value).And.NotContain("\u3089 [mixed scripts]");
        text.Should().NotContain("\u0585").And.NotContain("\u04CF");
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
