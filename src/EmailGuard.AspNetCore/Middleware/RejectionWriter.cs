using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace EmailGuard.AspNetCore;

/// <summary>Answers a rejected request: status, <c>Retry-After</c>, then the app's <c>OnRejected</c> or a problem-details body.</summary>
internal static class RejectionWriter
{
    /// <summary>Writes the rejection of a rate-limited (or store-unavailable) request.</summary>
    public static async Task RejectAsync(
        HttpContext context, EndpointGuardState state, int status, string policy, string partition, RateLimitRule? rule, RateLimitDecision decision, string detail)
    {
        long seconds = RateLimitHeaders.RetryAfterSeconds(decision.RetryAfter, rule);
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        Func<EmailRateLimitRejectedContext, ValueTask>? onRejected = state.Options.OnRejected;
        if (onRejected is not null)
        {
            await onRejected(new EmailRateLimitRejectedContext(context, policy, partition, rule, TimeSpan.FromSeconds(seconds), decision));
            return;
        }

        await ProblemDetailsWriter.WriteAsync(context, status, detail, seconds, policy);
    }

    /// <summary>Writes a request that EmailGuard cannot judge (a bad body, no client address): 400, 413 or 415.</summary>
    public static Task WriteInvalidAsync(HttpContext context, int status, string detail)
        => ProblemDetailsWriter.WriteAsync(context, status, detail);
}
