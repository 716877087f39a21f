using EmailGuard.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Attaches EmailGuard endpoint policies to endpoints and route groups.</summary>
public static class EmailRateLimitEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Limits the endpoint (or every endpoint of the group) with a named policy. The policy must be added with
    /// <c>AddEndpointPolicies</c>, or the app fails to start. The endpoint refuses requests with 500 when
    /// <c>UseEmailGuard()</c> did not run for them after <c>UseRouting()</c>, instead of serving them unlimited.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or route group builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="policyName">The policy name.</param>
    /// <returns>The builder.</returns>
    public static TBuilder RequireEmailRateLimit<TBuilder>(this TBuilder builder, string policyName)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        var metadata = new EmailRateLimitAttribute(policyName);
        builder.Add(endpoint => Require(endpoint, metadata));
        return builder;
    }

    /// <summary>
    /// Limits the endpoint (or every endpoint of the group) with a named policy for the given HTTP methods only, e.g.
    /// <c>app.MapRazorPages().RequireEmailRateLimit("forms", "POST")</c>. <c>GET</c> covers <c>HEAD</c> too. As with the
    /// overload without methods, a covered request that <c>UseEmailGuard()</c> did not see after routing gets 500.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or route group builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="policyName">The policy name.</param>
    /// <param name="httpMethods">The methods the policy covers; requests with other methods are not limited by it.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentException">No method is given, or one is not an HTTP method.</exception>
    public static TBuilder RequireEmailRateLimit<TBuilder>(this TBuilder builder, string policyName, params string[] httpMethods)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        var metadata = new EmailRateLimitAttribute(policyName) { Methods = HttpMethodList.Normalize(httpMethods, nameof(httpMethods)) };
        builder.Add(endpoint => Require(endpoint, metadata));
        return builder;
    }

    /// <summary>
    /// Adds the policy, and makes the endpoint refuse (500) a request its policy covers when the EmailGuard middleware
    /// did not apply it: misordered before <c>UseRouting()</c>, or never added.
    /// </summary>
    private static void Require(EndpointBuilder endpoint, EmailRateLimitAttribute metadata)
    {
        endpoint.Metadata.Add(metadata);
        if (endpoint.RequestDelegate is { } next)
        {
            endpoint.RequestDelegate = UnguardedEndpoints.Wrap(next);
        }
    }

    /// <summary>
    /// Exempts the endpoint (or every endpoint of the group) from EmailGuard policies and path rules, including a
    /// policy required by an enclosing group.
    /// </summary>
    /// <typeparam name="TBuilder">The endpoint or route group builder.</typeparam>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static TBuilder DisableEmailRateLimit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Add(endpoint => endpoint.Metadata.Add(DisableEmailRateLimitAttribute.Instance));
        return builder;
    }
}
