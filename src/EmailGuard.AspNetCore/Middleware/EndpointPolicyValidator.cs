using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>Finds endpoints that name a policy nobody added, and route value partitions their routes never fill.</summary>
internal static partial class EndpointPolicyValidator
{
    public static void Validate(EndpointDataSource? dataSource, IReadOnlyDictionary<string, EmailRateLimitPolicy> policies)
    {
        if (dataSource is not null)
        {
            Validate(dataSource.Endpoints, policies);
        }
    }

    public static void Validate(IEnumerable<Endpoint> endpoints, IReadOnlyDictionary<string, EmailRateLimitPolicy> policies)
    {
        foreach (Endpoint endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<IEmailRateLimitMetadata>() is { PolicyName: { } name } && !policies.ContainsKey(name))
            {
                throw UnknownPolicy(name, endpoint.DisplayName);
            }

            foreach (PageHandlerRateLimit handler in endpoint.Metadata.GetMetadata<PageHandlerRateLimits>()?.Handlers ?? [])
            {
                if (handler.Metadata is { PolicyName: { } handlerPolicy } && !policies.ContainsKey(handlerPolicy))
                {
                    throw UnknownPolicy(handlerPolicy, $"{endpoint.DisplayName} ({handler.Method.Name})");
                }
            }
        }
    }

    /// <summary>
    /// A route value partition counts what the request's route values hold under its name; on an endpoint whose route
    /// has no such parameter (a typo in a policy, a route renamed since) it finds no value, and the policy's
    /// <see cref="MissingValueBehavior"/> applies to every request there: under Skip (the default) that limit is silently not
    /// in force, under Reject every request is refused, under ShareOneBucket all share one counter. Warns once per endpoint and partition (3107) that <paramref name="warned"/> lacks; an app
    /// that fills the value itself (a middleware setting route values) can ignore the warning.
    /// </summary>
    /// <returns>Every such endpoint and partition, of which those not in <paramref name="warned"/> were logged.</returns>
    public static IReadOnlySet<string> WarnUncountedRouteValues(
        IEnumerable<Endpoint> endpoints, IReadOnlyDictionary<string, EmailRateLimitPolicy> policies, IReadOnlySet<string> warned, ILogger logger)
    {
        HashSet<string> found = new(StringComparer.Ordinal);
        foreach (RouteEndpoint endpoint in endpoints.OfType<RouteEndpoint>())
        {
            IEnumerable<string?> names = [
                endpoint.Metadata.GetMetadata<IEmailRateLimitMetadata>()?.PolicyName,
                .. (endpoint.Metadata.GetMetadata<PageHandlerRateLimits>()?.Handlers ?? []).Select(h => h.Metadata?.PolicyName)];
            foreach (string name in names.OfType<string>().Distinct(StringComparer.Ordinal))
            {
                if (!policies.TryGetValue(name, out EmailRateLimitPolicy? policy))
                {
                    continue;
                }

                foreach (EmailRateLimitPartition partition in policy.Partitions)
                {
                    if (partition.Kind != PartitionKind.RouteValue || Fills(endpoint.RoutePattern, partition.Name!))
                    {
                        continue;
                    }

                    string key = $"{endpoint.DisplayName}\u0001{endpoint.RoutePattern.RawText}\u0001{name}\u0001{partition.Name}";
                    if (found.Add(key) && !warned.Contains(key))
                    {
                        string consequence = policy.MissingValue switch
                        {
                            MissingValueBehavior.Reject when !policy.ShadowMode => "every request there is rejected with 400 (WhenValueMissing Reject)",
                            MissingValueBehavior.ShareOneBucket => "every request there counts in the one bucket of requests without the value (WhenValueMissing ShareOneBucket)",
                            _ => "that partition counts nothing there",
                        };
                        LogRouteValueNeverFilled(logger, endpoint.DisplayName, endpoint.RoutePattern.RawText, name, partition.Name!, consequence);
                    }
                }
            }
        }

        return found;
    }

    private static bool Fills(RoutePattern pattern, string routeValue)
        => pattern.GetParameter(routeValue) is not null || pattern.Defaults.ContainsKey(routeValue) || pattern.RequiredValues.ContainsKey(routeValue);

    [LoggerMessage(EventId = 3107, EventName = "RouteValuePartitionNeverFilled", Level = LogLevel.Warning,
        Message = "The endpoint '{Endpoint}' ({Route}) uses the EmailGuard policy '{Policy}', whose route value partition '{RouteValue}' names no parameter of its route: {Consequence}. Fix the name in the policy or the route.")]
    private static partial void LogRouteValueNeverFilled(ILogger logger, string? endpoint, string? route, string policy, string routeValue, string consequence);

    public static InvalidOperationException UnknownPolicy(string name, string? endpoint)
        => new($"The endpoint '{endpoint}' requires the EmailGuard policy '{name}', which was not added. Add it with " +
            $"services.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy(\"{name}\", p => ...)) or in configuration under " +
            $"{EmailGuardEndpointOptions.ConfigurationSectionName}:Policies:{name}, or fix the name.");
}
