namespace EmailGuard.AspNetCore;

/// <summary>
/// One metadata type for "limit with this policy" and "do not limit", so that the most specific one on an endpoint
/// (the last added: action over controller, endpoint over group) decides.
/// </summary>
internal interface IEmailRateLimitMetadata
{
    /// <summary>The policy name, or <see langword="null"/> when rate limiting is disabled for the endpoint.</summary>
    string? PolicyName { get; }
}
