using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EmailGuard.AspNetCore;

/// <summary>Finds endpoints that name a policy nobody added.</summary>
internal static class EndpointPolicyValidator
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

    public static InvalidOperationException UnknownPolicy(string name, string? endpoint)
        => new($"The endpoint '{endpoint}' requires the EmailGuard policy '{name}', which was not added. Add it with " +
            $"services.AddEmailGuard().AddEndpointPolicies(o => o.AddPolicy(\"{name}\", p => ...)) or in configuration under " +
            $"{EmailGuardEndpointOptions.ConfigurationSectionName}:Policies:{name}, or fix the name.");
}
