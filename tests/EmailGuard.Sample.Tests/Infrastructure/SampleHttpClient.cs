using System.Net;
using System.Text.RegularExpressions;

namespace EmailGuard.Sample.Tests;

/// <summary>
/// A browser without the browser: keeps cookies, reads the antiforgery token of a page's form and posts it back, and
/// never follows redirects, so a test sees the 302 or 429 the app answered.
/// </summary>
public sealed partial class SampleHttpClient : IDisposable
{
    private readonly HttpClient _client;

    public SampleHttpClient(Uri baseAddress, string? adminKey = null)
    {
        _client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer(), UseCookies = true })
        {
            BaseAddress = baseAddress,
        };
        if (adminKey is not null)
        {
            _client.DefaultRequestHeaders.Add("X-Admin-Key", adminKey);
        }
    }

    public Task<HttpResponseMessage> GetAsync(string path) => _client.GetAsync(new Uri(path, UriKind.Relative));

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path)
        => _client.SendAsync(new HttpRequestMessage(method, new Uri(path, UriKind.Relative)));

    public async Task<string> GetStringAsync(string path)
    {
        using HttpResponseMessage response = await GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>Loads <paramref name="page"/> for its antiforgery token, then posts <paramref name="fields"/> to <paramref name="action"/>.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(string page, string action, params (string Name, string Value)[] fields)
    {
        string html = await GetStringAsync(page);
        Match token = TokenPattern().Match(html);
        if (!token.Success)
        {
            throw new InvalidOperationException($"{page} has no antiforgery token.");
        }

        Dictionary<string, string> form = fields.ToDictionary(f => f.Name, f => f.Value);
        form["__RequestVerificationToken"] = WebUtility.HtmlDecode(token.Groups["token"].Value);
        return await _client.PostAsync(new Uri(action, UriKind.Relative), new FormUrlEncodedContent(form));
    }

    /// <summary>Suspends a tenant through the EmailGuard dashboard's flag form (reason <c>manual</c>), past its confirmation step.</summary>
    public Task<HttpResponseMessage> SuspendTenantAsync(string tenant)
        => SubmitAsync(
            "/emailguard/flags",
            "/emailguard/flags/apply",
            ("type", "Tenant"),
            ("id", tenant),
            ("reason", EmailGuardFlagReasons.Manual),
            ("confirmed", "yes"));

    public void Dispose() => _client.Dispose();

    // Razor writes name, type, value; the dashboard writes type, name, value.
    [GeneratedRegex("name=\"__RequestVerificationToken\"[^>]*? value=\"(?<token>[^\"]+)\"")]
    private static partial Regex TokenPattern();
}
