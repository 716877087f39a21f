using EmailGuard.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Attaches EmailGuard endpoint policies to endpoints and route groups.</summary>
public static class EmailRateLimitEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Limits the endpoint (or every endpoint of the group) with a named policy. Only adds metadata; the policy must be
    /// added with <c>AddEndpointPolicies</c>, or the app fails to start.
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
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
    }

    /// <summary>
    /// Limits the endpoint (or every endpoint of the group) with a named policy for the given HTTP methods only, e.g.
    /// <c>app.MapRazorPages().RequireEmailRateLimit("forms", "POST")</c>. <c>GET</c> covers <c>HEAD</c> too.
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
        builder.Add(endpoint => endpoint.Metadata.Add(metadata));
        return builder;
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
