using EmailGuard.AspNetCore;

namespace EmailGuard.Sample.Limits;

/// <summary>
/// The middleware's <c>OnRejected</c>: instead of a problem-details body, a page a person can read, computed from the
/// Retry-After the middleware has already set (with the 429 status).
/// </summary>
internal static class SampleRejections
{
    public static async ValueTask WriteFriendlyPageAsync(EmailRateLimitRejectedContext context)
    {
        if (context.IsChallengeRequired)
        {
            await FriendlyLimitPage.WriteChallengeAsync(context.HttpContext);
            return;
        }

        string headline = (context.PolicyName, context.PartitionKind) switch
        {
            (_, "store") => "We cannot take sign-ups or reset requests right now",
            (_, "ban") => "Too many attempts from your network",
            ("signup", "field") => "Too many sign-ups for this address",
            ("signup", _) => "Too many sign-ups from your network",
            ("password-reset", "field") => "Too many reset requests for this address",
            ("password-reset", _) => "Too many password reset requests from your network",
            _ => "Too many requests",
        };
        await FriendlyLimitPage.WriteBodyAsync(context.HttpContext, headline, context.RetryAfter);
    }
}
