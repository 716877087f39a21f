using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What <see cref="EmailGuardEndpointOptions.OnRejected"/> gets to write a custom response, e.g. a signup page that
/// says "try again in 14 minutes".
/// </summary>
public sealed class EmailRateLimitRejectedContext
{
    internal EmailRateLimitRejectedContext(HttpContext httpContext, string policyName, string partitionKind, RateLimitRule? rule, TimeSpan retryAfter, RateLimitDecision decision)
    {
        HttpContext = httpContext;
        PolicyName = policyName;
        PartitionKind = partitionKind;
        Rule = rule;
        RetryAfter = retryAfter;
        Decision = decision;
    }

    /// <summary>Gets the rejected request; its status code and rate-limit headers are already set.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>Gets the policy that rejected the request, or the path rule's endpoint pattern.</summary>
    public string PolicyName { get; }

    /// <summary>The <see cref="PartitionKind"/> of a "challenge required" answer (status 403, see <see cref="EmailGuardChallenge"/>).</summary>
    public const string ChallengePartitionKind = "challenge";

    /// <summary>Gets the kind of partition whose limit was reached: <c>ip</c>, <c>net</c> (a client network),
    /// <c>user</c>, <c>tenant</c>, <c>field</c>, <c>route</c> or <c>key</c>; <c>store</c> when the store was
    /// unavailable; <c>ban</c> when the client network is banned from the policy; <c>surge</c> when the policy's surge
    /// breaker denies; <c>challenge</c> when the policy asks for a challenge.</summary>
    public string PartitionKind { get; }

    /// <summary>Gets the rule whose limit was reached, or <see langword="null"/> when the store was unavailable.</summary>
    public RateLimitRule? Rule { get; }

    /// <summary>Gets how long the client should wait, in whole seconds rounded up, as sent in <c>Retry-After</c>.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets the store's decision.</summary>
    public RateLimitDecision Decision { get; }

    /// <summary>Gets whether the policy asks for a challenge (a CAPTCHA) instead of a wait; the status is 403 and there is no <c>Retry-After</c>.</summary>
    public bool IsChallengeRequired => PartitionKind == ChallengePartitionKind;

    /// <summary>Gets whether the request was rejected because the store was unavailable and the policy fails closed.</summary>
    public bool IsStoreUnavailable => Decision.Status == RateLimitStatus.StoreUnavailable;
}
