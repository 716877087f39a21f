using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Which request methods a rule written for one method covers. A rule for GET covers HEAD too: servers answer HEAD
/// by running the GET handler (Razor Pages' <c>OnGet</c>, static files, <c>MapMethods</c> with both), so a HEAD
/// request does the same work and must spend the same quota.
/// </summary>
internal static class HttpMethodCoverage
{
    /// <param name="ruleMethod">The method the rule names, or <see langword="null"/> for any.</param>
    /// <param name="requestMethod">The request's method.</param>
    public static bool Covers(string? ruleMethod, string requestMethod)
        => ruleMethod is null
            || string.Equals(ruleMethod, requestMethod, StringComparison.OrdinalIgnoreCase)
            || (HttpMethods.IsGet(ruleMethod) && HttpMethods.IsHead(requestMethod));
}
