using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Matching;

namespace EmailGuard.AspNetCore;

/// <summary>
/// <see cref="UnguardedEndpoints"/> for route endpoints no convention wrapped and MVC does not run, chiefly a minimal
/// API whose handler delegate carries <see cref="EmailRateLimitAttribute"/> itself: routing selects a copy of the
/// endpoint whose request delegate checks the mark. Applies to no endpoint in an app without such metadata, so
/// routing there is unchanged.
/// </summary>
internal sealed class UnguardedEndpointMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    private readonly ConcurrentDictionary<Endpoint, RouteEndpoint> _guarded = new();

    /// <summary>Last, so the endpoint that replaces a candidate is never one another policy would have rejected.</summary>
    public override int Order => int.MaxValue;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (Endpoint endpoint in endpoints)
        {
            if (NeedsGuard(endpoint))
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        for (int i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i) && candidates[i].Endpoint is RouteEndpoint endpoint && NeedsGuard(endpoint))
            {
                candidates.ReplaceEndpoint(i, _guarded.GetOrAdd(endpoint, Guard), candidates[i].Values);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A route endpoint with a policy whose request delegate does not check the mark yet. MVC actions and pages are
    /// checked by <see cref="UnguardedEndpointFilter"/>, which knows a page's handler.
    /// </summary>
    private static bool NeedsGuard(Endpoint endpoint)
        => endpoint is RouteEndpoint { RequestDelegate: { } next }
           && !UnguardedEndpoints.IsWrapped(next)
           && endpoint.Metadata.GetMetadata<IEmailRateLimitMetadata>() is { PolicyName: not null }
           && endpoint.Metadata.GetMetadata<ActionDescriptor>() is null;

    private static RouteEndpoint Guard(Endpoint endpoint)
    {
        var route = (RouteEndpoint)endpoint;
        return new RouteEndpoint(UnguardedEndpoints.Wrap(route.RequestDelegate!), route.RoutePattern, route.Order, route.Metadata, route.DisplayName);
    }
}
