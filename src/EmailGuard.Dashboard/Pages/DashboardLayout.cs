using System.Text;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.Dashboard;

/// <summary>
/// The frame of every page, and the headers that make it safe: a strict Content-Security-Policy whose only allowance is
/// the page's own style block (by nonce), no framing, no caching, no sniffing.
/// </summary>
internal static class DashboardLayout
{
    private const string Css = """
        :root{color-scheme:light;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;font-size:15px;color:#1d2430;background:#f5f6f8}
        body{margin:0}header{background:#1d2a44;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
        header h1{font-size:1.1rem;margin:0}nav a{color:#cfe0ff;margin-right:1rem;text-decoration:none}nav a.active{color:#fff;font-weight:600;border-bottom:2px solid #fff}
        main{padding:1rem 1.2rem;max-width:1200px}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}h3{font-size:.95rem;margin:.8rem 0 .3rem}
        table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:.6rem}th,td{border:1px solid #dde1e7;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-all}
        th{background:#eef1f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;word-break:normal}
        .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:.8rem}.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.6rem .8rem}
        .notice{padding:.5rem .8rem;border-radius:4px;background:#e7f4ea;border:1px solid #9fd3ad}.notice.bad{background:#fdecec;border-color:#f0a8a8}
        .muted{color:#667085}.bar{fill:#c0392b}.axis{stroke:#99a;stroke-width:1}.chart text{font-size:10px;fill:#556}
        form.inline{display:inline}input,select,button{font:inherit;padding:.2rem .4rem}button{cursor:pointer}button.danger{background:#c0392b;color:#fff;border:1px solid #a93226;border-radius:3px}
        .meter{height:8px;background:#eef1f5;border-radius:4px;overflow:hidden}.pager a{margin-right:1rem}
        """;

    public static readonly (string Path, string Name)[] Pages =
    [
        (string.Empty, "Overview"),
        ("/policies", "Endpoint policies"),
        ("/lists", "Lists"),
        ("/flags", "Flags and suspensions"),
        ("/events", "Event log"),
    ];

    public static async Task WriteAsync(DashboardRequest request, string active, string title, Html body, int statusCode = StatusCodes.Status200OK)
    {
        Html page = new();
        page.Raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Raw("<meta name=\"referrer\" content=\"no-referrer\"><link rel=\"icon\" href=\"data:,\"><title>").Text(title).Raw(" · ").Text(request.Options.Title).Raw("</title>")
            .Raw("<style").Attr("nonce", request.Nonce).Raw(">").Raw(Css).Raw("</style></head><body><header><h1>").Text(request.Options.Title).Raw("</h1><nav>");
        foreach ((string path, string name) in Pages)
        {
            page.Raw("<a").Attr("href", request.Url(path.Length == 0 ? "/" : path));
            if (path == active)
            {
                page.Raw(" class=\"active\" aria-current=\"page\"");
            }

            page.Raw(">").Text(name).Raw("</a>");
        }

        page.Raw("</nav></header><main><h2 id=\"page-title\">").Text(title).Raw("</h2>");
        if (request.Notice("msg") is { Length: > 0 } message)
        {
            page.Raw("<p class=\"notice\" id=\"dashboard-message\" role=\"status\">").Text(message).Raw("</p>");
        }

        if (request.Notice("err") is { Length: > 0 } error)
        {
            page.Raw("<p class=\"notice bad\" id=\"dashboard-error\" role=\"alert\">").Text(error).Raw("</p>");
        }

        page.Raw(body.ToString()).Raw("</main></body></html>");
        HttpResponse response = request.Context.Response;
        response.StatusCode = statusCode;
        SetHeaders(response, request.Nonce);
        response.ContentType = "text/html; charset=utf-8";
        await response.WriteAsync(page.ToString(), Encoding.UTF8, request.Context.RequestAborted).ConfigureAwait(false);
    }

    public static void SetHeaders(HttpResponse response, string nonce)
    {
        response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
        response.Headers.CacheControl = "no-store";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }
}
