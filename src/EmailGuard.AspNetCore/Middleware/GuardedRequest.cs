using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What EmailGuard already counted for the current request. <c>UseEmailGuard()</c> called twice (two modules, a
/// branch, an exception handler re-executing the pipeline) puts the middleware in a request's path twice; the second
/// pass then counts only what the first did not, so a request is decided once per policy and path rule.
/// </summary>
/// <remarks>
/// Immutable, so that the usual claim, a policy or a path rule alone, is an instance its policy keeps
/// (<see cref="EmailRateLimitPolicy.ClaimedAsPolicy"/>, <see cref="EmailRateLimitPolicy.ClaimedAsPathRule"/>) and costs
/// a request no allocation; a later pass that claims more sets a new instance that keeps the earlier ones. Every pass's
/// claims are kept, not only the first's: an exception handler or status code page re-executing the pipeline onto
/// <c>/error</c> had the second pass count the <c>*</c> fallback rule there after the first counted the endpoint's own
/// rule, and the check of an endpoint routed after the middleware (<see cref="ReroutedEndpointMatcherPolicy"/>), which
/// saw only the first, refused the error page with 500.
/// </remarks>
internal sealed class GuardedRequest
{
    private readonly string? _policy;
    private readonly string? _pathRule;
    private readonly GuardedRequest? _earlier;

    public GuardedRequest(string? policy, string? pathRule)
        : this(policy, pathRule, null)
    {
    }

    private GuardedRequest(string? policy, string? pathRule, GuardedRequest? earlier)
    {
        _policy = policy;
        _pathRule = pathRule;
        _earlier = earlier;
    }

    /// <summary>
    /// Claims <paramref name="policy"/> and <paramref name="pathRule"/> for this pass, clearing each one an earlier
    /// pass claimed. Counters are keyed by name, so a name claimed once is counted once.
    /// </summary>
    /// <returns>Whether anything is left to count.</returns>
    public static bool Claim(HttpContext context, ref EmailRateLimitPolicy? policy, ref EmailRateLimitPolicy? pathRule)
    {
        GuardedRequest? claimed = context.Features.Get<GuardedRequest>();
        if (claimed is null)
        {
            context.Features.Set(pathRule is null ? policy!.ClaimedAsPolicy
                : policy is null ? pathRule.ClaimedAsPathRule
                : new GuardedRequest(policy.Name, pathRule.Name));
            return true;
        }

        if (policy is not null && claimed.HasPolicy(policy.Name))
        {
            policy = null;
        }

        if (pathRule is not null && claimed.HasPathRule(pathRule.Name))
        {
            pathRule = null;
        }

        if (policy is null && pathRule is null)
        {
            return false;
        }

        context.Features.Set(new GuardedRequest(policy?.Name, pathRule?.Name, claimed));
        return true;
    }

    /// <summary>
    /// Whether a pass of the middleware counted <paramref name="policy"/> and <paramref name="pathRule"/> (either may be
    /// <see langword="null"/>, nothing to count) for this request.
    /// </summary>
    public static bool Counted(HttpContext context, string? policy, string? pathRule)
    {
        if (policy is null && pathRule is null)
        {
            return true;
        }

        GuardedRequest? claimed = context.Features.Get<GuardedRequest>();
        return claimed is not null && (policy is null || claimed.HasPolicy(policy)) && (pathRule is null || claimed.HasPathRule(pathRule));
    }

    private bool HasPolicy(string name)
    {
        for (GuardedRequest? pass = this; pass is not null; pass = pass._earlier)
        {
            if (string.Equals(pass._policy, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private bool HasPathRule(string name)
    {
        for (GuardedRequest? pass = this; pass is not null; pass = pass._earlier)
        {
            if (string.Equals(pass._pathRule, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
