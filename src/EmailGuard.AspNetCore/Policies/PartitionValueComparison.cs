namespace EmailGuard.AspNetCore;

/// <summary>
/// Which spellings of a value an endpoint partition counts as one: the route values, claims, headers and custom keys
/// of <see cref="EmailRateLimitPolicyBuilder.PerRouteValue(string, PartitionValueComparison, RateLimitRule[])"/>,
/// <see cref="EmailRateLimitPolicyBuilder.PerUser(PartitionValueComparison, RateLimitRule[])"/>, the <c>PerTenant</c>
/// methods and <see cref="EmailRateLimitPolicyBuilder.PerKey(string, PartitionValueComparison, Func{Microsoft.AspNetCore.Http.HttpContext, string?}, RateLimitRule[])"/>.
/// </summary>
/// <remarks>
/// Either way a value is folded to its Unicode compatibility form (NFKC: fullwidth <c>ａｌｉｃｅ</c> and the ligature in
/// <c>ﬁle</c> read as <c>alice</c> and <c>file</c>, as SQL Server's width-insensitive default collations compare them),
/// white space is trimmed, and control characters, invisible formatting characters (zero-width spaces and joiners,
/// bidi marks, soft hyphens, variation selectors) and unpaired surrogates are dropped. A value that is nothing but
/// those is counted on one counter shared by all such values, never left out.
/// </remarks>
public enum PartitionValueComparison
{
    /// <summary>
    /// Upper and lower case are one value (invariant case folding): <c>Alice</c>, <c>ALICE</c> and <c>alice </c> share a
    /// counter. The default, because the app most likely looks the value up that way: SQL Server's default collations
    /// ignore case and trailing spaces, ASP.NET Core Identity finds users by an upper-cased normalized name, and EF Core
    /// on SQL Server compares case-insensitively. Counted apart, each case variant was a fresh counter for one user.
    /// </summary>
    IgnoreCase = 0,

    /// <summary>
    /// Upper and lower case are different values; everything else is folded as for <see cref="IgnoreCase"/>. Use it
    /// for values the app itself compares case-sensitively (base64 tokens, case-sensitive ids such as Firebase uids),
    /// whose case variants are different parties that must not spend one another's limit.
    /// </summary>
    CaseSensitive = 1,
}
