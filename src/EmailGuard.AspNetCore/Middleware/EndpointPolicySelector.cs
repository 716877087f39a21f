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
        if (endpoint is null)
        {
            return null;
        }

        IEmailRateLimitMetadata? metadata = endpoint.Metadata.GetMetadata<IEmailRateLimitMetadata>();
        PageHandlerRateLimits? page = endpoint.Metadata.GetMetadata<PageHandlerRateLimits>();
        if (page is { HasHandlerMetadata: true } && page.Select(context) is { Metadata: { } handler })
        {
            return handler;
        }

        return metadata is EmailRateLimitAttribute attribute && !attribute.Covers(context.Request.Method, onPage: page is not null)
            ? null
            : metadata;
    }
}
