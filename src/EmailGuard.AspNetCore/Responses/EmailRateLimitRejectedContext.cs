using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What <see cref="EmailGuardEndpointOptions.OnRejected"/> gets to write a custom response, e.g. a signup page that
/// says "try again in 14 minutes".
/// </summary>
public sealed class EmailRateLimitRejectedContext
{
    internal EmailRateLimitRejectedContext(HttpContext httpContext, string policyName, string partition, RateLimitRule? rule, TimeSpan retryAfter, RateLimitDecision decision)
    {
        HttpContext = httpContext;
        PolicyName = policyName;
        Partition = partition;
        Rule = rule;
        RetryAfter = retryAfter;
        Decision = decision;
    }

    /// <summary>Gets the rejected request; its status code and rate-limit headers are already set.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Gets the policy that rejected the request, or the path rule's endpoint pattern.</summary>
    public string PolicyName { get; }

    /// <summary>Gets the kind of partition whose limit was reached: <c>ip</c>, <c>user</c>, <c>tenant</c>,
    /// <c>field</c>, <c>route</c> or <c>key</c>; <c>store</c> when the store was unavailable.</summary>
    public string Partition { get; }

    /// <summary>Gets the rule whose limit was reached, or <see langword="null"/> when the store was unavailable.</summary>
    public RateLimitRule? Rule { get; }

    /// <summary>Gets how long the client should wait, in whole seconds rounded up, as sent in <c>Retry-After</c>.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets the store's decision.</summary>
    public RateLimitDecision Decision { get; }

    /// <summary>Gets whether the request was rejected because the store was unavailable and the policy fails closed.</summary>
    public bool IsStoreUnavailable => Decision.Status == RateLimitStatus.StoreUnavailable;
}
