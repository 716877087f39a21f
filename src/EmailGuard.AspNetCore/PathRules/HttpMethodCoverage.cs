using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Which request methods a rule written for one method covers. A rule for GET covers HEAD too: servers answer HEAD
/// by running the GET handler (Razor Pages' <c>OnGet</c>, static files, <c>MapMethods</c> with both), so a HEAD
/// request does the same work and must spend the same quota. On an endpoint that names no method and is no Razor page,
/// every method that may act runs the one handler, so a rule or policy for one of them covers the others (<see cref="SameActionAt(EndpointMetadataCollection, string, string)"/>).
/// </summary>
internal static class HttpMethodCoverage
{
    /// <param name="ruleMethod">The method the rule names, or <see langword="null"/> for any.</param>
    /// <param name="requestMethod">The request's method.</param>
    public static bool Covers(string? ruleMethod, string requestMethod)
        => ruleMethod is null
            || string.Equals(ruleMethod, requestMethod, StringComparison.OrdinalIgnoreCase)
            || (HttpMethods.IsGet(ruleMethod) && HttpMethods.IsHead(requestMethod));

    /// <summary>
    /// Whether a rule or policy written for <paramref name="coveredMethod"/> covers a request with
    /// <paramref name="requestMethod"/> at the endpoint of <paramref name="endpoint"/> as the same action: the endpoint names no HTTP
    /// method (<c>app.Map</c>, an MVC action without a verb attribute), so routing runs its one handler for every
    /// method, and both methods may act (neither is GET, HEAD, OPTIONS or TRACE). A <c>PUT</c> there runs what the
    /// <c>POST</c> a rule names runs; a read does not spend the quota of a write.
    /// </summary>
    public static bool SameActionAt(EndpointMetadataCollection endpoint, string coveredMethod, string requestMethod)
        => !HttpMethodList.IsSafe(coveredMethod) && !HttpMethodList.IsSafe(requestMethod) && TakesEveryMethod(endpoint);

    /// <summary>Whether the endpoint of <paramref name="endpoint"/> runs <paramref name="requestMethod"/> as the same action as one of <paramref name="coveredMethods"/>.</summary>
    public static bool SameActionAt(EndpointMetadataCollection endpoint, string[] coveredMethods, string requestMethod)
    {
        foreach (string covered in coveredMethods)
        {
            if (SameActionAt(endpoint, covered, requestMethod))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the endpoint of <paramref name="metadata"/> names no HTTP method, so that routing sends it every method, and
    /// runs one handler for all of them. A Razor page names none either, but runs a handler of its own per method
    /// (<c>OnPost</c>, <c>OnDelete</c>), or only renders the page for a method it has none for.
    /// </summary>
    private static bool TakesEveryMethod(EndpointMetadataCollection metadata)
        => metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>() is not { HttpMethods.Count: > 0 }
           && metadata.GetMetadata<Microsoft.AspNetCore.Mvc.RazorPages.PageActionDescriptor>() is null;
}
