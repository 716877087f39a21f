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

    /// <summary>
    /// Submits the first form of <paramref name="page"/> that posts to <paramref name="action"/>, then its confirmation
    /// page's form, each as a browser does; returns the answer to the confirmed post.
    /// </summary>
    private static async Task<HttpResponseMessage> SubmitAndConfirmAsync(HttpClient client, string page, string action)
    {
        HttpResponseMessage asked = await client.PostAsync(action, AsBrowserSends(FormFields(await client.GetStringAsync(page), action)));
        string question = await asked.Content.ReadAsStringAsync();
        question.Should().Contain("id=\"confirm\"");
        return await client.PostAsync(action, AsBrowserSends(FormFields(question, action)));
    }

    /// <summary>The hidden fields of the first form that posts to <paramref name="action"/>, as a browser reads them.</summary>
    private static List<KeyValuePair<string, string>> FormFields(string html, string action)
    {
        Match form = Regex.Match(html, "<form method=\"post\" action=\"" + Regex.Escape(action) + "\"[^>]*>(.*?)</form>", RegexOptions.Singleline);
        form.Success.Should().BeTrue($"the page has a form that posts to {action}");
        return [.. HiddenPattern().Matches(form.Groups[1].Value).Select(f => new KeyValuePair<string, string>(WebUtility.HtmlDecode(f.Groups[1].Value), WebUtility.HtmlDecode(f.Groups[2].Value)))];
    }

    /// <summary>
    /// A form's fields as a browser posts them: every line break, CR, LF or CR LF, becomes CR LF (HTML's "constructing the
    /// entry list" normalizes them before it encodes the form).
    /// </summary>
    private static FormUrlEncodedContent AsBrowserSends(IEnumerable<KeyValuePair<string, string>> fields)
        => new(fields.Select(f => new KeyValuePair<string, string>(f.Key, LineBreakPattern().Replace(f.Value, "\r\n"))));

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenPattern();

    [GeneratedRegex("\r\n|\r|\n")]
    private static partial Regex LineBreakPattern();
}
