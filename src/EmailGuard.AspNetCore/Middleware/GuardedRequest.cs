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
/// a request no allocation; a later pass that claims more sets a new instance.
/// </remarks>
internal sealed class GuardedRequest
{
    private readonly string? _policy;
    private readonly string? _pathRule;

    public GuardedRequest(string? policy, string? pathRule)
    {
        _policy = policy;
        _pathRule = pathRule;
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

        if (policy is not null && string.Equals(claimed._policy, policy.Name, StringComparison.Ordinal))
        {
            policy = null;
        }

        if (pathRule is not null && string.Equals(claimed._pathRule, pathRule.Name, StringComparison.Ordinal))
        {
            pathRule = null;
        }

        if ((claimed._policy is null && policy is not null) || (claimed._pathRule is null && pathRule is not null))
        {
            context.Features.Set(new GuardedRequest(claimed._policy ?? policy?.Name, claimed._pathRule ?? pathRule?.Name));
        }

        return policy is not null || pathRule is not null;
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
        return claimed is not null
            && (policy is null || string.Equals(claimed._policy, policy, StringComparison.Ordinal))
            && (pathRule is null || string.Equals(claimed._pathRule, pathRule, StringComparison.Ordinal));
    }
}
