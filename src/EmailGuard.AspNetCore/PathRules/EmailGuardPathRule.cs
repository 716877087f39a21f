namespace EmailGuard.AspNetCore;

/// <summary>
/// One limit from configuration for requests that match an endpoint pattern, e.g.
/// <c>{ "Endpoint": "POST:/api/webhook/incoming", "Limit": 60, "Window": "00:01:00" }</c>.
/// </summary>
public sealed class EmailGuardPathRule
{
    /// <summary>The IPv4 prefix length a <see cref="PathRulePartitionKind.ClientNetwork"/> rule groups by unless set: 24.</summary>
    public const int DefaultNetworkIPv4PrefixLength = 24;

    /// <summary>The IPv6 prefix length a <see cref="PathRulePartitionKind.ClientNetwork"/> rule groups by unless set: 48.</summary>
    public const int DefaultNetworkIPv6PrefixLength = 48;

    /// <summary>
    /// Gets or sets the endpoint pattern: <c>METHOD:/path</c>, where METHOD may be <c>*</c> for any method, a <c>*</c>
    /// path segment matches one segment and a trailing <c>*</c> matches one or more; <c>*</c> alone is the fallback
    /// for requests no other rule matches. The path is written as routes are, without the app's path base
    /// (<c>UsePathBase</c>, <c>X-Forwarded-Prefix</c>): it matches <c>Request.Path</c>. A path without wildcards also
    /// covers the other paths routing sends to the same endpoint with the same route values (<c>/account/signup/1</c>
    /// under MVC's <c>{controller}/{action}/{id?}</c>). Paths compare case-insensitively, and a literal segment also matches the
    /// spellings a route value folds to it (surrounding white space, invisible characters, width and compatibility forms:
    /// <c>/api/tenants/acme%20/invite</c> counts under <c>POST:/api/tenants/acme/invite</c>); a
    /// <c>PathRuleAllowlist</c> entry matches case-insensitively only. <c>?handler=Name</c> after a Razor page's path limits
    /// one handler of the page (<c>POST:/notify?handler=Confirm</c> counts the requests that run <c>OnPostConfirm</c>, whether
    /// the route or the query names it); a pattern holds no other query.
    /// </summary>
    /// <value>The default value is an empty string, which fails validation.</value>
    public string Endpoint { get; set; } = string.Empty;

    /// <summary>Gets or sets the permits per window.</summary>
    /// <value>The default value is 0, which fails validation.</value>
    public long Limit { get; set; }

    /// <summary>Gets or sets the window.</summary>
    /// <value>The default value is one minute.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how permits are counted.</summary>
    /// <value>The default value is <see cref="RateLimitAlgorithm.FixedWindow"/>.</value>
    public RateLimitAlgorithm Algorithm { get; set; } = RateLimitAlgorithm.FixedWindow;

    /// <summary>Gets or sets the segments of a sliding window; 0 picks the default.</summary>
    /// <value>The default value is 0.</value>
    public int Segments { get; set; }

    /// <summary>Gets or sets who the limit is counted for.</summary>
    /// <value>The default value is <see cref="PathRulePartitionKind.ClientIp"/>.</value>
    public PathRulePartitionKind PartitionBy { get; set; } = PathRulePartitionKind.ClientIp;

    /// <summary>
    /// Gets or sets the IPv4 prefix length, 1 to 32, that clients are grouped by when <see cref="PartitionBy"/> is
    /// <see cref="PathRulePartitionKind.ClientNetwork"/>; null for <see cref="DefaultNetworkIPv4PrefixLength"/>. Set with another partition, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public int? IPv4PrefixLength { get; set; }

    /// <summary>
    /// Gets or sets the IPv6 prefix length, 1 to 128, that clients are grouped by when <see cref="PartitionBy"/> is
    /// <see cref="PathRulePartitionKind.ClientNetwork"/>; null for <see cref="DefaultNetworkIPv6PrefixLength"/>. Set with another partition, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public int? IPv6PrefixLength { get; set; }
}
