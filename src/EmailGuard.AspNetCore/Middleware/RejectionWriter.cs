using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Answers a request the middleware stops: status, <c>Retry-After</c>, then the app's <c>OnRejected</c> or an RFC 9457
/// problem-details body. The body goes through the app's <see cref="IProblemDetailsService"/> when it registers one
/// (<c>services.AddProblemDetails()</c>), so its customizations (a <c>traceId</c>, extensions) apply to our answers too;
/// otherwise, or when that service declines to write (the client accepts no JSON), our own writer answers.
/// </summary>
internal sealed class RejectionWriter
{
    private readonly IProblemDetailsService? _problemDetails;

    public RejectionWriter(IProblemDetailsService? problemDetails) => _problemDetails = problemDetails;

    /// <summary>Writes the rejection of a rate-limited (or store-unavailable) request.</summary>
    public async Task RejectAsync(
        HttpContext context, EndpointGuardState state, int status, string policy, string partition, RateLimitRule? rule, RateLimitDecision decision, string detail)
    {
        long seconds = RateLimitHeaders.RetryAfterSeconds(decision.RetryAfter, rule);
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        Func<EmailRateLimitRejectedContext, ValueTask>? onRejected = state.Options.OnRejected;
        if (onRejected is not null)
        {
            await onRejected(new EmailRateLimitRejectedContext(context, policy, partition, rule, TimeSpan.FromSeconds(seconds), decision)).ConfigureAwait(false);
            return;
        }

        await WriteAsync(context, status, detail, seconds, policy).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the rejection of a request over a limit, banned or turned away by a surge breaker, as
    /// <see cref="RejectAsync"/> would with the detail "Too many requests. Try again in N seconds.". Unless the app writes
    /// the answer (its <c>OnRejected</c> or problem-details service), the body comes from the policy's
    /// <see cref="RejectionBodyCache"/>: the same bytes, serialized once a second instead of once per request.
    /// </summary>
    public Task RejectTooManyAsync(
        HttpContext context, EndpointGuardState state, EmailRateLimitPolicy policy, string partition, RateLimitRule? rule, RateLimitDecision decision, long seconds)
    {
        int status = state.Options.RejectionStatusCode;
        if (state.Options.OnRejected is not null || _problemDetails is not null)
        {
            return RejectAsync(context, state, status, policy.Name, partition, rule, decision, RejectionBodyCache.Detail(seconds));
        }

        RejectionBodyCache.Entry answer = policy.Rejections.Get(status, seconds, policy.Name);
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.RetryAfter = answer.RetryAfter;
        response.ContentType = "application/problem+json";
        response.ContentLength = answer.Body.Length;
        return response.Body.WriteAsync(answer.Body, 0, answer.Body.Length, context.RequestAborted);
    }

    /// <summary>
    /// Answers "challenge required": 403 with problem type <see cref="EmailGuardChallenge.ProblemType"/> and no
    /// <c>Retry-After</c> (waiting does not help), or the app's <c>OnRejected</c> with partition <c>challenge</c>.
    /// </summary>
    public async Task ChallengeAsync(HttpContext context, EndpointGuardState state, string policy)
    {
        context.Response.StatusCode = EmailGuardChallenge.StatusCode;
        if (state.Options.OnRejected is { } onRejected)
        {
            var decision = new RateLimitDecision(RateLimitStatus.LimitExceeded, -1, TimeSpan.Zero, DateTimeOffset.UnixEpoch);
            await onRejected(new EmailRateLimitRejectedContext(context, policy, EmailRateLimitRejectedContext.ChallengePartitionKind, null, TimeSpan.Zero, decision)).ConfigureAwait(false);
            return;
        }

        await WriteAsync(context, EmailGuardChallenge.StatusCode, "Complete the challenge and send the request again.", policy: policy,
            type: EmailGuardChallenge.ProblemType, title: "Challenge Required").ConfigureAwait(false);
    }

    /// <summary>Answers a request from a denied client network: 403, saying nothing about the list, the entry or the reason.</summary>
    public Task WriteDeniedAsync(HttpContext context)
        => WriteAsync(context, StatusCodes.Status403Forbidden, "The request is not allowed.", type: EmailGuardChallenge.DeniedProblemType, title: "Forbidden");

    /// <summary>Writes a request that EmailGuard cannot judge (a bad body, no client address): 400, 413 or 415.</summary>
    public Task WriteInvalidAsync(HttpContext context, int status, string detail) => WriteAsync(context, status, detail);

    /// <summary>Writes a problem-details body through the app's service when it has one, else through our own writer.</summary>
    public async Task WriteAsync(
        HttpContext context, int status, string detail, long? retryAfterSeconds = null, string? policy = null, string? type = null, string? title = null)
    {
        context.Response.StatusCode = status;
        if (_problemDetails is not null)
        {
            var problem = new ProblemDetails
            {
                Status = status,
                Type = type ?? ProblemDetailsWriter.TypeFor(status),
                Title = title ?? ProblemDetailsWriter.TitleFor(status),
                Detail = detail,
            };
            if (retryAfterSeconds is { } seconds)
            {
                problem.Extensions["retryAfter"] = seconds;
            }

            if (policy is not null)
            {
                problem.Extensions["policy"] = policy;
            }

            if (await _problemDetails.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false))
            {
                return;
            }
        }

        await ProblemDetailsWriter.WriteAsync(context, status, detail, retryAfterSeconds, policy, type, title).ConfigureAwait(false);
    }
}
