using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// What the check of a path or method set after the middleware asks of the rules
/// (<see cref="RewriteCheckedRequestFeature"/>): the rule a request that reached no endpoint falls under, and whether a
/// rule covers every path, which the check leaves out.
/// </summary>
internal sealed partial class PathRuleSet
{
    /// <summary>
    /// The rule for the request as if it had <paramref name="method"/> and <paramref name="path"/> and had reached no
    /// endpoint, as the middleware decides a request a handler outside routing serves (an <c>app.Map</c> branch, a
    /// proxy): its path, and for methods that may act the paths below an exact rule's (<see cref="MatchBelow"/>); none
    /// when there are no rules. <see cref="RewriteCheckedRequestFeature"/> checks a path or method set after the
    /// middleware with it.
    /// </summary>
    public EmailRateLimitPolicy? MatchOutsideRouting(HttpContext context, string method, string? path)
        => IsEmpty ? null : Match(context, endpoint: null, method, path, exactPathsOnly: false);

    /// <summary>
    /// Whether <paramref name="rule"/> covers every path: a fallback rule (<c>*</c>, <c>POST:*</c>), or one whose path
    /// is wildcards only (<c>GET:/*</c>, which every path but the root matches), with no handler.
    /// </summary>
    public bool CoversEveryPath(EmailRateLimitPolicy rule)
    {
        foreach ((PathPattern pattern, EmailRateLimitPolicy policy) in _rules)
        {
            if (ReferenceEquals(policy, rule))
            {
                return pattern.IsFallback || (pattern.LiteralSegments == 0 && pattern.Handler is null);
            }
        }

        return false;
    }
}
