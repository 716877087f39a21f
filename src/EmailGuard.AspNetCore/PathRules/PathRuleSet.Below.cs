namespace EmailGuard.AspNetCore;

/// <summary>
/// The paths below an exact rule's path: what a request that reached no endpoint counts under, when a branch outside
/// routing (<c>app.Map</c>, <c>MapWhen</c> on <c>StartsWithSegments</c>, a proxy) serves them.
/// </summary>
internal sealed partial class PathRuleSet
{
    /// <summary>
    /// For a request that reached no endpoint, or a fallback route's: the most specific exact rule whose path lies above the request's
    /// (<see cref="PathPattern.IsBelow"/>), when it has more literal segments than the rule <paramref name="matched"/> on
    /// the path itself; else <paramref name="matched"/>. A path served outside routing (<c>app.Map</c>, a <c>MapWhen</c>
    /// on <c>StartsWithSegments</c>, a proxy middleware) is served below it too, and an exact rule on it let
    /// <c>/api/webhook/incoming/x</c>, <c>/y/z</c>, … through uncounted, or under the fallback. An exact rule on the
    /// path itself, and a wildcard rule as specific (<c>POST:/api/webhook/incoming/*</c>), keep their requests. Only for
    /// methods that may act: a read below a GET rule's page (a static file) is not the page.
    /// </summary>
    private int MatchBelow(string method, string? path, int matched)
    {
        if (matched >= 0 && !_rules[matched].Pattern.HasWildcardPath)
        {
            return matched;
        }

        int literals = matched < 0 ? 0 : _rules[matched].Pattern.LiteralSegments;
        for (int i = 0; i < _rules.Length; i++)
        {
            PathPattern pattern = _rules[i].Pattern;
            if (pattern.LiteralSegments > literals && pattern.IsBelow(method, path))
            {
                return i;
            }
        }

        return matched;
    }
}
