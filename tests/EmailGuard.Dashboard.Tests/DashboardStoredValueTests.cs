using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Every flag and list entry the dashboard lists can be cleared or removed with the form it shows, whatever the app or a
/// breaker wrote into the store: the forms are submitted as a browser submits them.
/// </summary>
public sealed partial class DashboardStoredValueTests : IAsyncLifetime
{
    private DashboardHost _host = null!;

    public async Task InitializeAsync() => _host = await DashboardHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private IEmailGuardFlags Flags => _host.Services.GetRequiredService<IEmailGuardFlags>();

    [Fact]
    public async Task ClearFlag_OfACategory_FromTheFlagsPage_Cleared()
    {
        // Arrange: the account's ratio breaker flags each risky category; the page listed the flag with a Clear button,
        // and the action answered "'Category' is not a party type here".
        await Flags.FlagAsync(EmailGuardPartyType.Category, "newsletter", EmailGuardFlagReasons.Manual, flaggedBy: "breaker");
        using HttpClient client = _host.Client();

        // Act
        HttpResponseMessage cleared = await SubmitAndConfirmAsync(client, "/emailguard/flags", "/emailguard/flags/clear");

        // Assert
        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        cleared.Headers.Location!.ToString().Should().Contain("msg=").And.NotContain("err=");
        (await Flags.GetActiveFlagsAsync(EmailGuardPartyType.Category, "newsletter")).Should().BeEmpty();
    }

    [Fact]
    public async Task ClearFlag_AReasonOf100000Characters_FromTheFlagsPage_Cleared()
    {
        // Arrange: a flag the app raised with a reason that quotes a long detail (a bounce's diagnostic, a breaker's
        // text). The Clear form carried the reason back, and the action refused one longer than 16,384 characters.
        string reason = "abuse: " + new string('d', 100_000);
        await Flags.FlagAsync(EmailGuardPartyType.User, "u-long", reason, flaggedBy: "app");
        using HttpClient client = _host.Client();
        string page = await client.GetStringAsync("/emailguard/flags");

        // Act
        (string question, HttpResponseMessage cleared) = await PostAndConfirmAsync(client, "/emailguard/flags/clear", FormFields(page, "/emailguard/flags/clear"));

        // Assert
        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        cleared.Headers.Location!.ToString().Should().Contain("msg=").And.NotContain("err=");
        (await Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "u-long")).Should().BeEmpty();
        string asks = WebUtility.HtmlDecode(Regex.Match(question, "<div class=\"card\" id=\"confirm\"><p>([^<]*)</p>").Groups[1].Value);
        asks.Should().StartWith("Clear the abuse: ddd").And.Contain(new string('d', 900) + "…").And.NotContain(new string('d', 1_000));
        question.Length.Should().BeLessThan(20_000, "the confirmation carries the reason's beginning and digest, not the reason");
    }

    [Theory]
    [InlineData("User", @"u\n1", "manual")]
    [InlineData("Tenant", @"t\uD800", "manual")]
    [InlineData("User", @"u\u0085", "manual")]
    [InlineData("User", @"u\u0001", @"bounce:\r\n550 no such user")]
    [InlineData("Tenant", "t-1", @"bounce:\n550 no such user")]
    public async Task ClearFlag_AnIdOrReasonABrowserDoesNotPostBackAsItIs_FromTheFlagsPage_Cleared(string type, string id, string reason)
    {
        // Arrange: ids and reasons the public API takes, which a browser posts back otherwise: a line break as CR LF,
        // half of a surrogate pair as U+FFFD, a C1 control as a Windows-1252 character. The form named another flag, and
        // the clear cleared nothing. (Escaped in the attribute, whose string is stored in UTF-8, where half of a surrogate
        // pair would be U+FFFD already.)
        (id, reason) = (Regex.Unescape(id), Regex.Unescape(reason));
        EmailGuardPartyType party = Enum.Parse<EmailGuardPartyType>(type);
        await Flags.FlagAsync(party, id, reason, flaggedBy: "app");
        using HttpClient client = _host.Client();
        string page = await client.GetStringAsync("/emailguard/flags");

        // Act
        (_, HttpResponseMessage cleared) = await PostAndConfirmAsync(client, "/emailguard/flags/clear", FormFields(page, "/emailguard/flags/clear"));

        // Assert
        cleared.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        (await Flags.GetActiveFlagsAsync(party, id)).Should().BeEmpty();
    }

    [Theory]
    [InlineData("Tenant", 100_000)]
    [InlineData("User", 100_000)]
    [InlineData("CategoryRecipient", 100_000)]
    [InlineData("Recipient", 0)]
    public async Task RemoveFromList_TheLongestValueTheListsTake_FromTheListsPage_Removed(string type, int length)
    {
        // Arrange: the lists take tenant and user ids, and a category-recipient's category, of any length, and the Remove
        // form carried the value back: one longer than 16,384 characters was refused. The longest address is 254.
        EmailGuardPartyType party = Enum.Parse<EmailGuardPartyType>(type);
        string value = party switch
        {
            EmailGuardPartyType.CategoryRecipient => new string('c', length) + ":victim@example.com",
            EmailGuardPartyType.Recipient => $"{new string('a', 64)}@{new string('b', 58)}.{new string('b', 59)}.{new string('b', 58)}.example.com",
            _ => new string('t', length),
        };
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        EmailGuardListEntry entry = await lists.AddAsync(EmailGuardListKind.Blocklist, party, value, "abuse", addedBy: "app");
        using HttpClient client = _host.Client();
        string page = await client.GetStringAsync("/emailguard/lists");

        // Act
        (_, HttpResponseMessage removed) = await PostAndConfirmAsync(client, "/emailguard/lists/remove", FormFields(page, "/emailguard/lists/remove"));

        // Assert
        removed.StatusCode.Should().Be(HttpStatusCode.SeeOther);
        removed.Headers.Location!.ToString().Should().Contain("msg=").And.NotContain("err=");
        (await client.GetStringAsync(removed.Headers.Location!.ToString())).Should().Contain("Removed " + type);
        (await lists.ListAsync(new EmailGuardListQuery { IncludeExpired = true })).TotalCount.Should().Be(0, $"the {entry.Value.Length}-character entry is gone");
    }

    [Fact]
    public async Task RemoveFromList_AnEntryStoredInAFormTheListsNowRefuse_FromTheListsPage_Removed()
    {
        // Arrange: an entry an older version or a direct write to the state store left as a value the lists now refuse;
        // the page lists it, and Remove answered "Not done: ... is not a valid address".
        await _host.Services.GetRequiredService<IEmailGuardStateStore>().UpsertListEntryAsync(
            new EmailGuardListEntry { Kind = EmailGuardListKind.Blocklist, PartyType = EmailGuardPartyType.Recipient, Value = "\"quoted local\"@example.com", Reason = "imported", CreatedAt = DateTimeOffset.UnixEpoch },
            CancellationToken.None);
        using HttpClient client = _host.Client();

        // Act
        HttpResponseMessage removed = await SubmitAndConfirmAsync(client, "/emailguard/lists", "/emailguard/lists/remove");

        // Assert
        removed.Headers.Location!.ToString().Should().Contain("msg=").And.NotContain("err=");
        (await _host.Services.GetRequiredService<IEmailGuardLists>().ListAsync(new EmailGuardListQuery { IncludeExpired = true })).TotalCount.Should().Be(0);
    }

    [Fact]
    public async Task ClearFlag_ItsReasonReplacedSinceThePageWasShown_ClearsNothing()
    {
        // Arrange: the page showed a flag with a long reason; before the operator confirmed, the app cleared it and raised
        // another whose reason begins alike. A flag is its party and reason, so the form names the one the page showed.
        string shown = "abuse: " + new string('d', 20_000);
        string raised = "abuse: " + new string('d', 15_000) + new string('e', 5_000);
        await Flags.FlagAsync(EmailGuardPartyType.User, "u-1", shown, flaggedBy: "app");
        using HttpClient client = _host.Client();
        List<KeyValuePair<string, string>> form = FormFields(await client.GetStringAsync("/emailguard/flags"), "/emailguard/flags/clear");
        await Flags.ClearAsync(EmailGuardPartyType.User, "u-1", shown, clearedBy: "app");
        await Flags.FlagAsync(EmailGuardPartyType.User, "u-1", raised, flaggedBy: "app");

        // Act
        (_, HttpResponseMessage answer) = await PostAndConfirmAsync(client, "/emailguard/flags/clear", form);

        // Assert
        (await Flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "u-1")).Select(f => f.Reason).Should().Equal(raised);
        (await client.GetStringAsync(answer.Headers.Location!.ToString())).Should().Contain("Cleared 0 flag(s) of User u-1.");
    }

    [Fact]
    public async Task ClearFlag_FlaggedAgainWithTheSameReasonSinceThePageWasShown_Cleared()
    {
        // Arrange: flagged again with the same reason (a new expiry) it is the flag the page showed, as a clear by the
        // reason itself has always found it.
        string reason = "abuse: " + new string('d', 20_000);
        await Flags.FlagAsync(EmailGuardPartyType.Tenant, "t-1", reason, TimeSpan.FromHours(1), flaggedBy: "app");
        using HttpClient client = _host.Client();
        List<KeyValuePair<string, string>> form = FormFields(await client.GetStringAsync("/emailguard/flags"), "/emailguard/flags/clear");
        await Flags.FlagAsync(EmailGuardPartyType.Tenant, "t-1", reason, TimeSpan.FromHours(48), flaggedBy: "breaker");

        // Act
        (_, HttpResponseMessage answer) = await PostAndConfirmAsync(client, "/emailguard/flags/clear", form);

        // Assert
        (await Flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "t-1")).Should().BeEmpty();
        (await client.GetStringAsync(answer.Headers.Location!.ToString())).Should().Contain("Cleared 1 flag(s) of Tenant t-1.");
    }

    [Theory]
    [InlineData("value-sha256", null)]
    [InlineData("value", "x")]
    public async Task RemoveFromList_AFormThatNamesNoEntry_RemovesNothing(string field, string? forged)
    {
        // Arrange: a form with a valid token that names no stored value, by a digest of another one or a beginning the
        // value does not have; two entries share the beginning the page shows.
        IEmailGuardLists lists = _host.Services.GetRequiredService<IEmailGuardLists>();
        string first = new string('t', 20_000) + "1";
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, first, "abuse");
        await lists.AddAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Tenant, new string('t', 20_000) + "2", "abuse");
        using HttpClient client = _host.Client();
        List<KeyValuePair<string, string>> form = FormFields(await client.GetStringAsync("/emailguard/lists"), "/emailguard/lists/remove");
        form = [.. form.Select(f => f.Key == field ? new(f.Key, forged ?? StoredText.Digest(first + "x")) : f)];

        // Act
        (_, HttpResponseMessage answer) = await PostAndConfirmAsync(client, "/emailguard/lists/remove", form);

        // Assert
        (await lists.ListAsync(new EmailGuardListQuery())).TotalCount.Should().Be(2);
        (await client.GetStringAsync(answer.Headers.Location!.ToString())).Should().Contain("was not on the list.");
    }

    /// <summary>
    /// Posts <paramref name="fields"/> to <paramref name="action"/>, then the confirmation page's form, each as a browser
    /// does; returns the confirmation page and the answer to the confirmed post.
    /// </summary>
    private static async Task<(string Question, HttpResponseMessage Answer)> PostAndConfirmAsync(HttpClient client, string action, List<KeyValuePair<string, string>> fields)
    {
        HttpResponseMessage asked = await client.PostAsync(action, AsBrowserSends(fields));
        string question = await asked.Content.ReadAsStringAsync();
        question.Should().Contain("id=\"confirm\"");
        return (question, await client.PostAsync(action, AsBrowserSends(FormFields(question, action))));
    }

    /// <summary>Submits the first form of <paramref name="page"/> that posts to <paramref name="action"/>, and confirms it.</summary>
    private static async Task<HttpResponseMessage> SubmitAndConfirmAsync(HttpClient client, string page, string action)
        => (await PostAndConfirmAsync(client, action, FormFields(await client.GetStringAsync(page), action))).Answer;

    /// <summary>
    /// The Windows-1252 character HTML reads a reference to each C1 control (0x80 to 0x9F) as, or NUL for one it keeps
    /// (HTML's numeric character reference end state).
    /// </summary>
    private const string C1AsWindows1252 =
        "\u20AC\0\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\0\u017D\0"
        + "\0\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\0\u017E\u0178";

    /// <summary>
    /// An attribute's value as a browser reads it: a reference to NUL or to half of a surrogate pair is U+FFFD, one to a
    /// C1 control the Windows-1252 character of that byte (WebUtility.HtmlDecode keeps both as they were).
    /// </summary>
    private static string AsBrowserReads(string attribute)
        => ReferencePattern().Replace(attribute, m =>
        {
            if (!m.Groups[1].Success)
            {
                return WebUtility.HtmlDecode(m.Value);
            }

            int code = int.Parse(m.Groups[1].Value, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            return code is 0 or > 0x10FFFF or (>= 0xD800 and <= 0xDFFF) ? "\uFFFD"
                : code is >= 0x80 and <= 0x9F && C1AsWindows1252[code - 0x80] != '\0' ? C1AsWindows1252[code - 0x80].ToString()
                : char.ConvertFromUtf32(code);
        });

    /// <summary>The hidden fields of the first form that posts to <paramref name="action"/>, as a browser reads them.</summary>
    private static List<KeyValuePair<string, string>> FormFields(string html, string action)
    {
        Match form = Regex.Match(html, "<form method=\"post\" action=\"" + Regex.Escape(action) + "\"[^>]*>(.*?)</form>", RegexOptions.Singleline);
        form.Success.Should().BeTrue($"the page has a form that posts to {action}");
        return [.. HiddenPattern().Matches(form.Groups[1].Value).Select(f => new KeyValuePair<string, string>(AsBrowserReads(f.Groups[1].Value), AsBrowserReads(f.Groups[2].Value)))];
    }

    /// <summary>
    /// A form's fields as a browser posts them: every line break, CR, LF or CR LF, becomes CR LF (HTML's "constructing the
    /// entry list" normalizes them before it encodes the form).
    /// </summary>
    private static FormUrlEncodedContent AsBrowserSends(IEnumerable<KeyValuePair<string, string>> fields)
        => new(fields.Select(f => new KeyValuePair<string, string>(f.Key, LineBreakPattern().Replace(f.Value, "\r\n"))));

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenPattern();

    [GeneratedRegex("&#x([0-9A-Fa-f]+);|&#[0-9]+;|&[A-Za-z]+;")]
    private static partial Regex ReferencePattern();

    [GeneratedRegex("\r\n|\r|\n")]
    private static partial Regex LineBreakPattern();
}
