using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>Path rules and the allowlist compiled from options, most specific first.</summary>
internal sealed class PathRuleSet
{
    public static readonly PathRuleSet Empty = new([], []);

    private readonly (PathPattern Pattern, EmailRateLimitPolicy Policy)[] _rules;
    private readonly PathPattern[] _allowlist;

    private PathRuleSet((PathPattern, EmailRateLimitPolicy)[] rules, PathPattern[] allowlist)
    {
        _rules = rules;
        _allowlist = allowlist;
    }

    public bool IsEmpty => _rules.Length == 0;

    public int Count => _rules.Length;

    public EmailRateLimitPolicy? Match(string method, string? path)
    {
        foreach (PathPattern allowed in _allowlist)
        {
            if (allowed.Matches(method, path))
            {
                return null;
            }
        }

        foreach ((PathPattern pattern, EmailRateLimitPolicy policy) in _rules)
        {
            if (pattern.Matches(method, path))
            {
                return policy;
            }
        }

        return null;
    }

    /// <summary>Compiles the rules, or says which setting is wrong.</summary>
    public static PathRuleSet Create(EmailGuardEndpointOptions options, List<string> errors)
    {
        // The binder turns any number into the enum; left to WithFailureMode it would throw an ArgumentException that
        // names no setting, and on a reload it would escape into the configuration provider's change callback.
        if (!Enum.IsDefined(options.PathRuleFailureMode))
        {
            errors.Add($"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRuleFailureMode is not FailOpen, FailClosed or LocalFallback.");
        }

        var groups = new List<(PathPattern Pattern, EmailRateLimitPolicyBuilder Builder, Dictionary<PathRulePartitionKind, List<RateLimitRule>> Rules)>();
        for (int i = 0; i < options.PathRules.Count; i++)
        {
            EmailGuardPathRule item = options.PathRules[i];
            string setting = string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRules:{StrictConfiguration.ItemKey(options.PathRules, i)}");
            if (item is null)
            {
                errors.Add($"{setting} is empty.");
                continue;
            }

            if (!PathPattern.TryParse(item.Endpoint, out PathPattern? pattern, out string? error))
            {
                errors.Add($"{setting}:Endpoint: {error}.");
                continue;
            }

            // The core package's rule check, so a path rule's Limit, Window, Algorithm or Segments fails with the same sentence
            // as a send-guard rule's, naming the setting, instead of .NET's argument exception text with its parameter name.
            var ruleOptions = new RateLimitRuleOptions { Limit = item.Limit, Window = item.Window, Algorithm = item.Algorithm, Segments = item.Segments };
            if (ruleOptions.Validate(setting) is { } invalid)
            {
                errors.Add(invalid);
                continue;
            }

            RateLimitRule rule = ruleOptions.ToRule();

            if (!Enum.IsDefined(item.PartitionBy))
            {
                errors.Add($"{setting}:PartitionBy is not ClientIp or Global.");
                continue;
            }

            int index = groups.FindIndex(g => string.Equals(g.Pattern.Text, pattern!.Text, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
            {
                groups.Add((pattern!, CreateBuilder(pattern!.Text), []));
                index = groups.Count - 1;
            }

            Dictionary<PathRulePartitionKind, List<RateLimitRule>> byPartition = groups[index].Rules;
            if (!byPartition.TryGetValue(item.PartitionBy, out List<RateLimitRule>? rules))
            {
                byPartition[item.PartitionBy] = rules = [];
            }

            rules.Add(rule);
        }

        var allowlist = new List<PathPattern>();
        for (int i = 0; i < options.PathRuleAllowlist.Count; i++)
        {
            if (!PathPattern.TryParse(options.PathRuleAllowlist[i], out PathPattern? pattern, out string? error))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{EmailGuardEndpointOptions.ConfigurationSectionName}:PathRuleAllowlist:{StrictConfiguration.ItemKey(options.PathRuleAllowlist, i)}: {error}."));
                continue;
            }

            allowlist.Add(pattern!);
        }

        if (errors.Count > 0)
        {
            return Empty;
        }

        var compiled = new List<(PathPattern, EmailRateLimitPolicy)>();
        foreach ((PathPattern pattern, EmailRateLimitPolicyBuilder builder, Dictionary<PathRulePartitionKind, List<RateLimitRule>> rules) in groups)
        {
            foreach ((PathRulePartitionKind partition, List<RateLimitRule> partitionRules) in rules)
            {
                if (partition == PathRulePartitionKind.ClientIp)
                {
                    builder.PerClientIp([.. partitionRules]);
                }
                else
                {
                    builder.PerKey("global", static _ => "all", [.. partitionRules]);
                }
            }

            builder.WithFailureMode(options.PathRuleFailureMode);
            compiled.Add((pattern, new EmailRateLimitPolicy(builder, options.QuotaHeadersOnAllowedResponses, "r")));
        }

        // OrderBy is stable, so equally specific rules keep the order the configuration gives them.
        return new PathRuleSet([.. compiled.OrderBy(c => c.Item1, Comparer<PathPattern>.Create(PathPattern.CompareSpecificity))], [.. allowlist]);
    }

    private static EmailRateLimitPolicyBuilder CreateBuilder(string name) => new(name);
}
