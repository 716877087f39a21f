using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What EmailGuard already counted for the current request. <c>UseEmailGuard()</c> called twice (two modules, a
/// branch, an exception handler re-executing the pipeline) puts the middleware in a request's path twice; the second
/// pass then counts only what the first did not, so a request is decided once per policy and path rule.
/// </summary>
internal sealed class GuardedRequest
{
    private string? _policy;
    private string? _pathRule;

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
            context.Features.Set(new GuardedRequest { _policy = policy?.Name, _pathRule = pathRule?.Name });
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

        claimed._policy ??= policy?.Name;
        claimed._pathRule ??= pathRule?.Name;
        return policy is not null || pathRule is not null;
    }
}
