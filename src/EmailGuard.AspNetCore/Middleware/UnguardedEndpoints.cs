using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Refuses to run an endpoint whose EmailGuard policy the middleware did not apply: <c>UseEmailGuard()</c> before
/// <c>UseRouting()</c> sees no endpoint, and without <c>UseEmailGuard()</c> nothing looks at the policy at all, so the
/// endpoint would otherwise serve every request unlimited and say nothing. As ASP.NET Core's endpoint middleware does
/// for authorization metadata without the authorization middleware, the request fails closed with 500.
/// </summary>
/// <remarks>
/// Endpoints meet this check in three ways: <c>RequireEmailRateLimit</c> wraps the endpoint's request delegate
/// (minimal APIs, route groups, and <c>MapControllers()</c> or <c>MapRazorPages()</c> conventions), a global MVC
/// resource filter covers <see cref="EmailRateLimitAttribute"/> on controllers, actions, pages and page handlers, and
/// <see cref="UnguardedEndpointMatcherPolicy"/> wraps any other route endpoint with a policy, such as a minimal API
/// handler that carries the attribute itself.
/// </remarks>
internal sealed partial class UnguardedEndpoints(ILogger<EmailGuardMiddleware> logger)
{
    private readonly ConcurrentDictionary<Endpoint, bool> _logged = new();

    /// <summary>
    /// Wraps <paramref name="next"/> so that the endpoint runs only when the middleware applied its policy, or when no
    /// policy covers the request (a method the policy skips, or <c>DisableEmailRateLimit</c>).
    /// </summary>
    public static RequestDelegate Wrap(RequestDelegate next)
        => IsWrapped(next) ? next : new Guard(next).InvokeAsync;

    /// <summary>Whether <paramref name="next"/> already checks the mark.</summary>
    public static bool IsWrapped(RequestDelegate next) => next.Target is Guard;

    /// <summary>
    /// Whether the request must be refused: the middleware did not mark it, and a policy covers it. The mark is read
    /// first, so a request the middleware handled costs one feature lookup.
    /// </summary>
    public static bool MustRefuse(HttpContext context, out string policy)
    {
        policy = "";
        if (context.Features.Get<MiddlewareRan>() is not null)
        {
            return false;
        }

        if (EndpointPolicySelector.Select(context, context.GetEndpoint()) is not { PolicyName: { } name })
        {
            return false;
        }

        policy = name;
        return true;
    }

    /// <summary>Logs the refusal, once per endpoint for the life of the process.</summary>
    public void Refused(HttpContext context, string policy)
    {
        Endpoint? endpoint = context.GetEndpoint();
        if (endpoint is not null && _logged.TryAdd(endpoint, true))
        {
            LogRefused(logger, endpoint.DisplayName ?? "(unnamed)", policy);
        }
    }

    /// <summary>Refuses the request with 500 and logs it once per endpoint (2976).</summary>
    public static void Refuse(HttpContext context, string policy)
    {
        // AddEndpointPolicies() registers the logger's owner; without it the request is still refused.
        UnguardedEndpoints? refusals = context.RequestServices?.GetService<UnguardedEndpoints>();
        (refusals ?? new UnguardedEndpoints(NullLogger<EmailGuardMiddleware>.Instance)).Refused(context, policy);
        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
    }

    [LoggerMessage(EventId = 2976, EventName = "EndpointPolicyNotApplied", Level = LogLevel.Error,
        Message = "The endpoint '{Endpoint}' requires the EmailGuard policy '{Policy}', but the EmailGuard middleware did not apply it: requests to it are refused with 500 and the endpoint does not run. Call app.UseEmailGuard() after app.UseRouting() (and UseAuthentication/UseForwardedHeaders).")]
    private static partial void LogRefused(ILogger logger, string endpoint, string policy);

    private sealed class Guard(RequestDelegate next)
    {
        public Task InvokeAsync(HttpContext context)
        {
            if (!MustRefuse(context, out string policy))
            {
                return next(context);
            }

            Refuse(context, policy);
            return Task.CompletedTask;
        }
    }
}
