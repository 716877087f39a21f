namespace EmailGuard.AspNetCore;

/// <summary>
/// Limits an MVC controller or action, a Razor page or one of its handlers (<c>OnPost</c>, <c>OnPostShare</c>), or an
/// endpoint with a named EmailGuard endpoint policy. The most specific attribute decides: an action's over its
/// controller's, a page handler's over its page's.
/// </summary>
/// <remarks>
/// On a Razor page class (or page model class) without <see cref="Methods"/>, the policy covers the page's unsafe
/// methods (POST, PUT, PATCH, DELETE) and never GET, HEAD, OPTIONS or TRACE, so viewing a form never spends its
/// quota. Put the attribute on a handler method to limit that handler only. The app fails at startup when the
/// attribute sits where it cannot work, for example on a page model method that is not a handler.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class EmailRateLimitAttribute : Attribute, IEmailRateLimitMetadata
{
    private string[]? _methods;

    /// <summary>Initializes the attribute.</summary>
    /// <param name="policyName">The name of a policy added with <c>AddEndpointPolicies</c>.</param>
    public EmailRateLimitAttribute(string policyName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        PolicyName = policyName;
    }

    /// <summary>Gets the policy name.</summary>
    public string PolicyName { get; }

    /// <summary>
    /// Gets or sets the HTTP methods the policy covers, e.g. <c>Methods = ["POST"]</c>; requests with other methods
    /// are not limited by it. <c>GET</c> covers <c>HEAD</c> too. Not allowed on a Razor page handler, which answers
    /// one method already.
    /// </summary>
    /// <value>
    /// The default value is <see langword="null"/>: every method on an endpoint, controller or action; every method
    /// but GET, HEAD, OPTIONS and TRACE on a Razor page.
    /// </value>
    /// <exception cref="ArgumentException">The list is empty or holds something that is not an HTTP method.</exception>
    public string[]? Methods
    {
        get => _methods is null ? null : [.. _methods];
        set => _methods = value is null ? null : HttpMethodList.Normalize(value, nameof(Methods));
    }

    /// <summary>Whether the policy covers a request with <paramref name="method"/>.</summary>
    /// <param name="method">The request's method.</param>
    /// <param name="onPage">Whether the attribute belongs to a Razor page as a whole, where it skips safe methods by default.</param>
    internal bool Covers(string method, bool onPage)
        => _methods is not null ? HttpMethodList.Contains(_methods, method) : !onPage || !HttpMethodList.IsSafe(method);
}
