using System.Collections.Frozen;
using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Everything the middleware derives from <see cref="EmailGuardEndpointOptions"/>, swapped as a whole when the
/// options reload so that a request never sees half old and half new rules.
/// </summary>
internal sealed class EndpointGuardState
{
    private EndpointGuardState(
        EmailGuardEndpointOptions options, FrozenDictionary<string, EmailRateLimitPolicy> policies, PathRuleSet pathRules, EndpointAllowlist allowlist, FrozenDictionary<string, PolicyDefense> defenses)
    {
        Options = options;
        Defenses = defenses;
        Policies = policies;
        PathRules = pathRules;
        Allowlist = allowlist;
    }

    public EmailGuardEndpointOptions Options { get; }

    public FrozenDictionary<string, EmailRateLimitPolicy> Policies { get; }

    public PathRuleSet PathRules { get; }

    public EndpointAllowlist Allowlist { get; }

    /// <summary>The defenses of the endpoint policies that have any, by policy name.</summary>
    public FrozenDictionary<string, PolicyDefense> Defenses { get; }

    /// <summary>
    /// Carries what the policies of <paramref name="previous"/> noted of their uncounted requests (warning 3118) over to
    /// the policies and path rules of the same name here, before these rules are in force. A policy the reload removed takes its
    /// count not yet logged with it (the <c>emailguard.endpoint.uncounted_requests</c> metric has every request).
    /// </summary>
    public void KeepUncountedOf(EndpointGuardState previous)
    {
        foreach ((string name, EmailRateLimitPolicy policy) in Policies)
        {
            if (previous.Policies.TryGetValue(name, out EmailRateLimitPolicy? before))
            {
                policy.KeepUncountedOf(before);
            }
        }

        PathRules.KeepUncountedOf(previous.PathRules);
    }

    /// <summary>Compiles the options; throws <see cref="InvalidOperationException"/> naming every invalid setting.</summary>
    public static EndpointGuardState Create(EmailGuardEndpointOptions options)
    {
        var errors = new List<string>();
        return Build(options, errors) ?? throw new InvalidOperationException("EmailGuard endpoint options are invalid: " + string.Join(" ", errors));
    }

    /// <summary>Same checks as <see cref="Create"/>, as messages, for options validation at startup.</summary>
    /// <remarks>One message per setting, each opening with the setting's full path, as every other startup failure does.</remarks>
    public static IReadOnlyList<string> Validate(EmailGuardEndpointOptions options)
    {
        var errors = new List<string>();
        _ = Build(options, errors);
        return errors;
    }

    private static EndpointGuardState? Build(EmailGuardEndpointOptions options, List<string> errors)
    {
        // The code's policies and those from configuration, one set from here on: a name is in one or the other.
        var builders = new Dictionary<string, EmailRateLimitPolicyBuilder>(options.PolicyBuilders, StringComparer.Ordinal);
        ConfiguredPolicies.AddTo(options, builders, errors);
        var policies = new Dictionary<string, EmailRateLimitPolicy>(StringComparer.Ordinal);
        foreach ((string name, EmailRateLimitPolicyBuilder builder) in builders)
        {
            try
            {
                policies[name] = new EmailRateLimitPolicy(builder, options.QuotaHeadersOnAllowedResponses);
            }
            catch (InvalidOperationException ex)
            {
                errors.Add(ex.Message);
            }
        }

        SharedCounterCheck.Find(policies.Values, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:Policies", "endpoint policies", errors);
        var defenses = new Dictionary<string, PolicyDefense>(StringComparer.Ordinal);
        foreach ((string name, EmailRateLimitPolicyBuilder builder) in builders)
        {
            options.PolicyDefenses.TryGetValue(name, out EmailGuardPolicyDefenseOptions? configured);
            bool perIp = builder.Partitions.Any(p => p.Kind == PartitionKind.ClientIp);
            if (PolicyDefense.Create(name, builder.Defense, configured, perIp, errors) is { } defense)
            {
                defenses[name] = defense;
            }
        }

        foreach (string name in options.PolicyDefenses.Keys)
        {
            if (!builders.ContainsKey(name) && !options.Policies.ContainsKey(name))
            {
                errors.Add($"{EmailGuardEndpointOptions.ConfigurationSectionName}:PolicyDefenses:{name}: there is no endpoint policy named '{name}'.");
            }
        }

        if (options.ClientNetworkListRefreshInterval < TimeSpan.FromMilliseconds(100) || options.ClientNetworkListRefreshInterval > TimeSpan.FromHours(1))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture,
                $"{EmailGuardEndpointOptions.ConfigurationSectionName}:ClientNetworkListRefreshInterval must be from 100 ms to 1 hour; it is {options.ClientNetworkListRefreshInterval}."));
        }

        PathRuleSet pathRules = PathRuleSet.Create(options, errors);
        EndpointAllowlist allowlist = EndpointAllowlist.Create(options, errors);
        MissingClientIp.Validate(options, errors);
        if (errors.Count > 0)
        {
            return null;
        }

        return new EndpointGuardState(
            options, policies.ToFrozenDictionary(StringComparer.Ordinal), pathRules, allowlist, defenses.ToFrozenDictionary(StringComparer.Ordinal));
    }
}
