namespace EmailGuard.AspNetCore;

/// <summary>
/// The "challenge required" answer of an endpoint policy: status 403 and problem type <see cref="ProblemType"/>. A
/// client shows a CAPTCHA and sends the request again with its token; waiting does not help, which is why the status
/// is 403 and not 429 (clients and retry handlers retry a 429 after <c>Retry-After</c>).
/// </summary>
public static class EmailGuardChallenge
{
    /// <summary>The status code of a "challenge required" answer.</summary>
    public const int StatusCode = 403;

    /// <summary>The problem type of a "challenge required" answer.</summary>
    public const string ProblemType = "https://emailguard.dev/problems/challenge-required";

    /// <summary>The problem type of a request from a denied client network; its body says no more than that.</summary>
    public const string DeniedProblemType = "https://emailguard.dev/problems/forbidden";
}
