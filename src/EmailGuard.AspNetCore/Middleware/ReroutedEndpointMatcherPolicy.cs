using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Refuses an endpoint that routing chose after the EmailGuard middleware had run, when a policy or path rule covers
/// it that the middleware did not count. <c>app.UseRewriter()</c> placed after <c>UseEmailGuard()</c> (both after
/// <c>UseRouting()</c>) rewrites the path and routes the request again, then runs the new endpoint without passing
/// the middleware again: a legacy alias rewritten onto <c>/api/invite</c> mailed without limit past a
/// <c>POST:/api/invite</c> path rule, and one rewritten from one policy's endpoint onto another's ran under neither.
/// As <see cref="UnguardedEndpoints"/> does for a policy the middleware never saw, the request fails closed with 500.
/// </summary>
/// <remarks>
/// Only routing that runs after the middleware (it marks each request it sees, <see cref="MiddlewareSawRequest"/>)
/// costs more than a feature lookup: there each candidate is replaced by a copy whose request delegate checks, once
/// the endpoint is chosen, what the middleware would have counted against what it did count.
/// </remarks>
internal sealed partial class ReroutedEndpointMatcherPolicy(EndpointGuardStateProvider state, ILogger<EmailGuardMiddleware> logger)
    : MatcherPolicy, IEndpointSelectorPolicy
{
    private readonly ConcurrentDictionary<Endpoint, RouteEndpoint> _checked = new();
    private readonly ConcurrentDictionary<Endpoint, bool> _logged = new();

    /// <summary>After <see cref="UnguardedEndpointMatcherPolicy"/>, so its copy is the one checked here.</summary>
    public override int Order => int.MaxValue;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (Endpoint endpoint in endpoints)
        {
            if (endpoint is RouteEndpoint { RequestDelegate: not null })
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        if (httpContext.Features.Get<MiddlewareSawRequest>() is null)
        {
            return Task.CompletedTask;
        }

        for (int i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i) && candidates[i].Endpoint is RouteEndpoint { RequestDelegate: { } next } endpoint
                && next.Target is not Check)
            {
                candidates.ReplaceEndpoint(i, _checked.GetOrAdd(endpoint, CheckedCopy), candidates[i].Values);
            }
        }

        return Task.CompletedTask;
    }

    private RouteEndpoint CheckedCopy(Endpoint endpoint)
    {
        var route = (RouteEndpoint)endpoint;
        return new RouteEndpoint(new Check(this, route.RequestDelegate!).InvokeAsync, route.RoutePattern, route.Order, route.Metadata, route.DisplayName);
    }

    /// <summary>
    /// What the middleware would count for this request at its endpoint that it did not count, or null;
    /// <paramref name="policyName"/> is the policy among it.
    /// </summary>
    private string? Uncounted(HttpContext context, out string? policyName)
    {
        policyName = null;
        Endpoint? endpoint = context.GetEndpoint();
        string? routed = null;
        bool changed = false;
        IEmailRateLimitMetadata? metadata = EndpointPolicySelector.Select(context, endpoint, ref routed, ref changed);
        if (metadata is { PolicyName: null })
        {
            // DisableEmailRateLimit: the middleware counts nothing at such an endpoint, not even a path rule.
            return null;
        }

        string? policy = metadata?.PolicyName;
        string? pathRule = state.Current.PathRules.MatchAt(context, endpoint, ref routed, ref changed)?.Name;
        if (GuardedRequest.Counted(context, policy, pathRule))
        {
            return null;
        }

        if (policy is not null && !GuardedRequest.Counted(context, policy, null))
        {
            policyName = policy;
            return "policy '" + policy + "'";
        }

        return "path rule '" + pathRule + "'";
    }

    private void Refuse(HttpContext context, string uncounted)
    {
        Endpoint? endpoint = context.GetEndpoint();
        if (endpoint is not null && _logged.TryAdd(endpoint, true))
        {
            LogRefused(logger, endpoint.DisplayName ?? "(unnamed)", uncounted);
        }

        context.Response.StatusCode = StatusCodes.Status500InternalServerError;
    }

    [LoggerMessage(EventId = 3067, EventName = "EndpointRoutedAfterMiddleware", Level = LogLevel.Error,
        Message = "A request was routed after the EmailGuard middleware ran (a UseRewriter() or a re-executing middleware placed after UseEmailGuard(), or UseEmailGuard() before UseRouting()), to the endpoint '{Endpoint}', which the EmailGuard {Uncounted} covers and the middleware did not count: such requests are refused with 500 and the endpoint does not run. Call app.UseEmailGuard() after app.UseRouting() and after the middleware that rewrites the request.")]
    private static partial void LogRefused(ILogger logger, string endpoint, string uncounted);

    private sealed class Check(ReroutedEndpointMatcherPolicy policy, RequestDelegate next)
    {
        public Task InvokeAsync(HttpContext context)
        {
            if (policy.Uncounted(context, out string? policyName) is not { } uncounted)
            {
                return next(context);
            }

            if (policyName is not null && context.Features.Get<MiddlewareRan>() is null)
            {
                // No pass of the middleware applied a policy here (it ran before routing, say): refused and logged as
                // without this check (2976).
                UnguardedEndpoints.Refuse(context, policyName);
            }
            else
            {
                policy.Refuse(context, uncounted);
            }

            return Task.CompletedTask;
        }
    }
}
