using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>One request to the dashboard: its links, its CSP nonce and its anti-forgery token.</summary>
internal sealed class DashboardRequest
{
    /// <summary>How long a notice an action wrote can be shown: the redirect follows at once.</summary>
    private static readonly TimeSpan NoticeLifetime = TimeSpan.FromMinutes(5);

    /// <param name="context">The request.</param>
    /// <param name="mount">Where and how the dashboard is mapped.</param>
    /// <param name="route">The page's route below the dashboard's prefix, a literal path such as <c>/flags</c>.</param>
    /// <param name="canAct">Whether the user meets the actions policy.</param>
    public DashboardRequest(HttpContext context, DashboardMount mount, string route, bool canAct = true)
    {
        Context = context;
        Mount = mount;
        Route = route;
        CanAct = canAct;
        // Hex: valid in a CSP nonce and unchanged by HTML encoding.
        Nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Base = context.Request.PathBase.Value + Mounted(context.Request.Path.Value, route, mount.Prefix.Value);
    }

    public HttpContext Context { get; }

    /// <summary>The page's route below the dashboard's prefix (<c>/</c>, <c>/flags</c>, <c>/flags/clear</c> ...).</summary>
    public string Route { get; }

    /// <summary>Whether the page shows its action forms: the user meets the actions policy, or there is none.</summary>
    public bool CanAct { get; }

    public DashboardMount Mount { get; }

    public EmailGuardDashboardOptions Options => Mount.Options;

    public string Nonce { get; }

    /// <summary>The dashboard's root as the browser sees it, without a trailing slash.</summary>
    public string Base { get; }

    /// <summary>
    /// Who takes an action, as the store and the logs record it: the user's name, else their id (a bearer token's
    /// subject, which often comes without a name claim; recorded as "dashboard", a lifted suspension named no one), else
    /// <c>dashboard</c> (Development's local-only mode, where no one signs in).
    /// </summary>
    public string Operator
        => Context.User.Identity?.Name is { Length: > 0 } name ? name
            : Context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value is { Length: > 0 } id ? id
            : Context.User.FindFirst("sub")?.Value is { Length: > 0 } subject ? subject
            : "dashboard";

    public IServiceProvider Services => Context.RequestServices;

    public string Url(string path, params (string Name, string? Value)[] query)
    {
        string url = Base + path;
        char separator = '?';
        foreach ((string name, string? value) in query)
        {
            if (!string.IsNullOrEmpty(value))
            {
                url += separator + name + "=" + Uri.EscapeDataString(value);
                separator = '&';
            }
        }

        return url;
    }

    /// <summary>
    /// Where the dashboard is served below the path base, without a trailing slash: the request's path without the
    /// page's route. That is the prefix it was mapped with, and more when it was mapped inside a route group of the app
    /// (<c>app.MapGroup("/admin").MapEmailGuardDashboard("/emailguard")</c>), whose prefix no builder API tells. The
    /// routes are literal and routing matched this path to the page's route, so only the case and a trailing slash may
    /// differ from the route; the mapped prefix is the answer if the path somehow does not end with it.
    /// </summary>
    private static string Mounted(string? path, string route, string? prefix)
    {
        ReadOnlySpan<char> requested = (path ?? string.Empty).AsSpan().TrimEnd('/');
        ReadOnlySpan<char> page = route.AsSpan().TrimEnd('/');
        return requested.EndsWith(page, StringComparison.OrdinalIgnoreCase) ? requested[..^page.Length].ToString() : prefix ?? string.Empty;
    }

    public string Query(string name) => Context.Request.Query[name].FirstOrDefault() ?? string.Empty;

    /// <summary>
    /// A notice for the page an action redirects to (<c>msg</c>, <c>err</c>), protected so that only the dashboard can
    /// write one: read from a plain query string, a link anyone sends an operator would show its text as the
    /// dashboard's own. Valid for a few minutes.
    /// </summary>
    public string ProtectNotice(string notice) => NoticeProtector().Protect(notice, NoticeLifetime);

    /// <summary>The notice in the query parameter <paramref name="name"/>, or empty when there is none the dashboard wrote.</summary>
    public string Notice(string name)
    {
        string value = Query(name);
        if (value.Length == 0)
        {
            return value;
        }

        try
        {
            return NoticeProtector().Unprotect(value, out _);
        }
        catch (CryptographicException)
        {
            return string.Empty;
        }
    }

    private ITimeLimitedDataProtector NoticeProtector()
        => Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("EmailGuard.Dashboard.Notice").ToTimeLimitedDataProtector();

    public Html Form(Html html, string action, string cssClass = "")
    {
        AntiforgeryTokenSet tokens = ((IAntiforgery)Services.GetService(typeof(IAntiforgery))!).GetAndStoreTokens(Context);
        html.Raw("<form method=\"post\"").Attr("action", Url(action));
        if (cssClass.Length > 0)
        {
            html.Attr("class", cssClass);
        }

        return html.Raw(">").Hidden(tokens.FormFieldName, tokens.RequestToken);
    }
}
