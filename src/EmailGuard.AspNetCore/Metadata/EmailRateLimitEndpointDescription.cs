using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// One way the EmailGuard middleware treats requests to an endpoint: the endpoint policy, or the exemption, that
/// applies to some of its HTTP methods and, on a Razor page, to one handler. Listed by
/// <see cref="EmailRateLimitEndpoints.Describe(IEnumerable{Endpoint})"/>, for example for an admin screen.
/// </summary>
public sealed class EmailRateLimitEndpointDescription
{
    internal EmailRateLimitEndpointDescription(
        Endpoint endpoint, string route, string? page, IReadOnlyList<string> httpMethods, string? pageHandler, string? policyName)
    {
        Endpoint = endpoint;
        Route = route;
        Page = page;
        HttpMethods = httpMethods;
        PageHandler = pageHandler;
        PolicyName = policyName;
    }

    /// <summary>Gets the endpoint described.</summary>
    public Endpoint Endpoint { get; }

    /// <summary>
    /// Gets the endpoint's route pattern with a leading <c>/</c>, e.g. <c>/api/signup</c> or <c>/Signup</c>, or its
    /// display name when it is not a route endpoint.
    /// </summary>
    public string Route { get; }

    /// <summary>Gets the Razor page, e.g. <c>/Signup/Index</c>, or <see langword="null"/> when the endpoint is not a page.</summary>
    public string? Page { get; }

    /// <summary>
    /// Gets the HTTP methods whose requests this description covers, upper case in a fixed order (GET, HEAD, POST,
    /// PUT, PATCH, DELETE, OPTIONS, TRACE, CONNECT, QUERY), or an empty list when it covers every method of an
    /// endpoint that accepts any.
    /// </summary>
    /// <remarks>
    /// Only methods the endpoint accepts are listed, and only those the policy covers: a Razor page's own attribute
    /// skips GET, HEAD, OPTIONS and TRACE unless it names its methods. On an endpoint that accepts any method, a
    /// method outside the list above follows the endpoint's or page's attribute.
    /// </remarks>
    public IReadOnlyList<string> HttpMethods { get; }

    /// <summary>
    /// Gets the name of the Razor page handler method whose own attribute decides, e.g. <c>OnPost</c> or
    /// <c>OnPostShare</c>, or <see langword="null"/> when the endpoint's or the page's metadata decides.
    /// </summary>
    public string? PageHandler { get; }

    /// <summary>Gets the endpoint policy that limits these requests, or <see langword="null"/> when EmailGuard is disabled for them.</summary>
    public string? PolicyName { get; }

    /// <summary>
    /// Gets a value indicating whether EmailGuard is disabled for these requests
    /// (<see cref="DisableEmailRateLimitAttribute"/> or <c>DisableEmailRateLimit()</c>), which exempts them from path rules too.
    /// </summary>
    public bool IsDisabled => PolicyName is null;
}
