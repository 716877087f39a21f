using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Which EmailGuard metadata applies to this request: the endpoint's, narrowed by the HTTP methods it covers, or on
/// a Razor page the attribute of the handler the request will run.
/// </summary>
internal static class EndpointPolicySelector
{
    /// <returns>
    /// The metadata that decides (a policy, or <see cref="DisableEmailRateLimitAttribute"/>), or <see langword="null"/>
    /// when no policy covers the request and only path rules apply.
    /// </returns>
    public static IEmailRateLimitMetadata? Select(HttpContext context, Endpoint? endpoint)
    {
        string? routed = null;
        bool changed = false;
        return Select(context, endpoint, ref routed, ref changed);
    }

    /// <summary>
    /// <see cref="Select(HttpContext, Endpoint?)"/> for the middleware, which needs the routed method again for the path
    /// rules and its method-change warning: <paramref name="routed"/> and <paramref name="changed"/> are set when this
    /// worked them out (<see cref="RoutedMethod.Of"/>), and left as they were when no policy could cover the request.
    /// </summary>
    public static IEmailRateLimitMetadata? Select(HttpContext context, Endpoint? endpoint, ref string? routed, ref bool changed)
    {
        if (endpoint is null)
        {
            return null;
        }

        PageHandlerRateLimits? page = endpoint.Metadata.GetMetadata<PageHandlerRateLimits>();
        if (page is not { HasHandlerMetadata: true } && endpoint.Metadata.GetMetadata<IEmailRateLimitMetadata>() is null)
        {
            return null;
        }

        // The handler name is read from the request only when a handler's own attribute could decide. The method is
        // the one routing chose the endpoint by, not one a middleware rewrote after it (RoutedMethod).
        string? handlerName = page is { HasHandlerMetadata: true } ? PageHandlerRateLimits.HandlerName(context) : null;
        routed ??= RoutedMethod.Of(context, endpoint, out changed);
        return Select(endpoint.Metadata, page, routed, handlerName, out _);
    }

    /// <summary>
    /// The selection rules themselves, for a request with <paramref name="method"/> naming the page handler
    /// <paramref name="handlerName"/>: the request path above and the endpoint listing both use them, so the listing
    /// shows exactly what the middleware enforces.
    /// </summary>
    /// <param name="metadata">The endpoint's metadata.</param>
    /// <param name="page">The endpoint's Razor page handlers, or <see langword="null"/> when it is not a page.</param>
    /// <param name="method">The request's HTTP method.</param>
    /// <param name="handlerName">The handler the request names (route value or query), or <see langword="null"/>.</param>
    /// <param name="handler">The page handler whose own attribute decided, or <see langword="null"/> when the endpoint's decided.</param>
    public static IEmailRateLimitMetadata? Select(
        EndpointMetadataCollection metadata, PageHandlerRateLimits? page, string method, string? handlerName, out PageHandlerRateLimit? handler)
    {
        if (page is { HasHandlerMetadata: true } && page.Select(method, handlerName) is { Metadata: { } own } selected)
        {
            handler = selected;
            return own;
        }

        handler = null;
        IEmailRateLimitMetadata? endpointMetadata = metadata.GetMetadata<IEmailRateLimitMetadata>();
        return endpointMetadata is EmailRateLimitAttribute attribute && !attribute.Covers(method, onPage: page is not null)
            && !(page is null && attribute.Methods is { } methods && HttpMethodCoverage.SameActionAt(metadata, methods, method))
            ? null
            : endpointMetadata;
    }
}
