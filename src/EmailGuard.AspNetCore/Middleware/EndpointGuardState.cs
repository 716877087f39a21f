using System.Collections.Frozen;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Everything the middleware derives from <see cref="EmailGuardEndpointOptions"/>, swapped as a whole when the
/// options reload so that a request never sees half old and half new rules.
/// </summary>
internal sealed class EndpointGuardState
{
    private EndpointGuardState(EmailGuardEndpointOptions options, FrozenDictionary<string, EmailRateLimitPolicy> policies, PathRuleSet pathRules, Safelist safelist)
    {
        Options = options;
        Policies = policies;
        PathRules = pathRules;
        Safelist = safelist;
    }

    public EmailGuardEndpointOptions Options { get; }

    public FrozenDictionary<string, EmailRateLimitPolicy> Policies { get; }

    public PathRuleSet PathRules { get; }

    public Safelist Safelist { get; }

    /// <summary>Compiles the options; throws <see cref="InvalidOperationException"/> naming every invalid setting.</summary>
    public static EndpointGuardState Create(EmailGuardEndpointOptions options)
    {
        var errors = new List<string>();
        var policies = new Dictionary<string, EmailRateLimitPolicy>(StringComparer.Ordinal);
        foreach ((string name, EmailRateLimitPolicyBuilder builder) in options.Policies)
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

        PathRuleSet pathRules = PathRuleSet.Create(options, errors);
        Safelist safelist = Safelist.Create(options, errors);
        MissingClientIp.Validate(options, errors);
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("EmailGuard endpoint options are invalid: " + string.Join(" ", errors));
        }

        return new EndpointGuardState(options, policies.ToFrozenDictionary(StringComparer.Ordinal), pathRules, safelist);
    }

    /// <summary>Same checks as <see cref="Create"/>, as messages, for options validation at startup.</summary>
    public static IEnumerable<string> Validate(EmailGuardEndpointOptions options)
    {
        try
        {
            Create(options);
            return [];
        }
        catch (InvalidOperationException ex)
        {
            return [ex.Message];
        }
    }
}
