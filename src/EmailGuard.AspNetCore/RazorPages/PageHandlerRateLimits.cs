using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Endpoint metadata of a Razor page: its handlers and the EmailGuard attribute each carries. A page is one endpoint
/// for all its handlers, and handler attributes are not endpoint metadata, so the middleware (which runs before the
/// page) uses this to tell which handler a request will run, the way Razor Pages chooses it.
/// </summary>
internal sealed class PageHandlerRateLimits(string page, PageHandlerRateLimit[] handlers)
{
    private const string HandlerKey = "handler";

    /// <summary>The page, as errors name it, e.g. <c>/Signup/Index</c>.</summary>
    public string Page { get; } = page;

    public PageHandlerRateLimit[] Handlers { get; } = handlers;

    /// <summary>Whether any handler carries its own attribute; when none does, only page-level metadata applies.</summary>
    public bool HasHandlerMetadata { get; } = Array.Exists(handlers, h => h.Metadata is not null);

    /// <summary>
    /// The handler Razor Pages will run for this request, mirroring its default selector: handlers whose verb is the
    /// request method (HEAD falls back to GET when no handler takes HEAD), then a named handler that matches the
    /// <c>handler</c> route value or query value over the unnamed one. An unknown handler name falls back to the
    /// unnamed handler, exactly as the page does, so <c>?handler=Anything</c> cannot dodge the <c>OnPost</c> policy.
    /// </summary>
    public PageHandlerRateLimit? Select(HttpContext context) => Select(context.Request.Method, HandlerName(context));

    /// <summary>
    /// <see cref="Select(HttpContext)"/> for a request with <paramref name="method"/> that names the handler
    /// <paramref name="handlerName"/> (or none), for callers that have no request, such as the endpoint listing.
    /// </summary>
    public PageHandlerRateLimit? Select(string method, string? handlerName)
    {
        PageHandlerRateLimit? selected = Select(method, handlerName, out bool methodMatched);
        if (!methodMatched && HttpMethods.IsHead(method))
        {
            selected = Select(HttpMethods.Get, handlerName, out _);
        }

        return selected;
    }

    private PageHandlerRateLimit? Select(string method, string? name, out bool methodMatched)
    {
        methodMatched = false;
        PageHandlerRateLimit? unnamed = null;
        foreach (PageHandlerRateLimit handler in Handlers)
        {
            if (!string.Equals(handler.HttpMethod, method, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            methodMatched = true;
            if (handler.Name is null)
            {
                unnamed ??= handler;
            }
            else if (string.Equals(handler.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return handler;
            }
        }

        return unnamed;
    }

    /// <summary>The handler a request names: the <c>handler</c> route value, else the first <c>handler</c> query value.</summary>
    public static string? HandlerName(HttpContext context)
    {
        string? name = Convert.ToString(context.Request.RouteValues[HandlerKey], CultureInfo.InvariantCulture);
        if (!string.IsNullOrEmpty(name))
        {
            return name;
        }

        return context.Request.Query.TryGetValue(HandlerKey, out var values) ? values[0] : null;
    }
}

/// <summary>One page handler: its verb, its name (<c>Share</c> for <c>OnPostShare</c>), and its own EmailGuard attribute.</summary>
internal sealed record PageHandlerRateLimit(string HttpMethod, string? Name, MethodInfo Method, IEmailRateLimitMetadata? Metadata);
