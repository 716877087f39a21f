using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace EmailGuard.AspNetCore;

/// <summary>Lists the endpoints EmailGuard endpoint policies apply to, as the middleware decides them.</summary>
public static class EmailRateLimitEndpoints
{
    /// <summary>
    /// Describes every endpoint with EmailGuard metadata: the attribute or <c>RequireEmailRateLimit</c> on an
    /// endpoint, controller, action or Razor page, a Razor page handler's own attribute, and
    /// <c>DisableEmailRateLimit</c>. The middleware's own selection rules decide each row, so a request matches a row
    /// exactly when the middleware limits it with that policy (or exempts it).
    /// </summary>
    /// <param name="endpoints">The endpoints, for example <c>EndpointDataSource.Endpoints</c> of the app's <see cref="EndpointDataSource"/> service.</param>
    /// <returns>
    /// The descriptions, in the order of <paramref name="endpoints"/>; an endpoint may have several (a page's
    /// handlers, or methods with different policies) or none (path rules only, which this does not list).
    /// </returns>
    public static IReadOnlyList<EmailRateLimitEndpointDescription> Describe(IEnumerable<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        List<EmailRateLimitEndpointDescription> descriptions = [];
        foreach (Endpoint endpoint in endpoints)
        {
            Describe(endpoint, descriptions);
        }

        return descriptions;
    }

    private static void Describe(Endpoint endpoint, List<EmailRateLimitEndpointDescription> descriptions)
    {
        EndpointMetadataCollection metadata = endpoint.Metadata;
        PageHandlerRateLimits? page = metadata.GetMetadata<PageHandlerRateLimits>();
        if (metadata.GetMetadata<IEmailRateLimitMetadata>() is null && page is not { HasHandlerMetadata: true })
        {
            return;
        }

        IReadOnlyList<string>? accepted = metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } endpointMethods ? endpointMethods : null;

        // Every request the endpoint can see, as (method, handler name): a handler name matters only on a page, and
        // any name no handler has selects as no name does.
        List<string?> handlerNames = [null];
        foreach (PageHandlerRateLimit handler in page?.Handlers ?? [])
        {
            if (handler.Name is not null && !handlerNames.Contains(handler.Name, StringComparer.OrdinalIgnoreCase))
            {
                handlerNames.Add(handler.Name);
            }
        }

        List<(PageHandlerRateLimit? Handler, string? Policy, List<string> Methods)> rows = [];
        foreach (string method in accepted ?? HttpMethodList.Known)
        {
            foreach (string? handlerName in handlerNames)
            {
                IEmailRateLimitMetadata? decided = EndpointPolicySelector.Select(metadata, page, method, handlerName, out PageHandlerRateLimit? handler);
                if (decided is null)
                {
                    continue;
                }

                int row = rows.FindIndex(r => r.Handler == handler && string.Equals(r.Policy, decided.PolicyName, StringComparison.Ordinal));
                if (row < 0)
                {
                    rows.Add((handler, decided.PolicyName, []));
                    row = rows.Count - 1;
                }

                string upper = method.ToUpperInvariant();
                if (!rows[row].Methods.Contains(upper, StringComparer.Ordinal))
                {
                    rows[row].Methods.Add(upper);
                }
            }
        }

        string route = endpoint is RouteEndpoint routeEndpoint
            ? "/" + routeEndpoint.RoutePattern.RawText?.TrimStart('/')
            : endpoint.DisplayName ?? string.Empty;
        foreach ((PageHandlerRateLimit? handler, string? policy, List<string> methods) in rows)
        {
            bool everyMethod = accepted is null && methods.Count == HttpMethodList.Known.Count;
            descriptions.Add(new EmailRateLimitEndpointDescription(
                endpoint, route, page?.Page, everyMethod ? [] : methods.AsReadOnly(), handler?.Method.Name, policy));
        }
    }
}
