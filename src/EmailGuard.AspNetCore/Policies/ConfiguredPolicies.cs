using System.Globalization;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Turns the policies of <see cref="EmailGuardEndpointOptions.Policies"/> into policy builders through the builder's own
/// methods, so a policy from configuration counts under the same keys and decides as the same policy written in code;
/// every mistake names its setting.
/// </summary>
internal static class ConfiguredPolicies
{
    private const string Example = "{ \"PartitionBy\": \"ClientIp\", \"Rules\": [ { \"Limit\": 5, \"Window\": \"00:15:00\" } ] }";

    /// <summary>Adds a builder per valid policy of <paramref name="options"/> to <paramref name="builders"/>, which holds the code's.</summary>
    public static void AddTo(EmailGuardEndpointOptions options, Dictionary<string, EmailRateLimitPolicyBuilder> builders, List<string> errors)
    {
        foreach ((string name, EmailGuardPolicyOptions? policy) in options.Policies)
        {
            string path = $"{EmailGuardEndpointOptions.ConfigurationSectionName}:{nameof(EmailGuardEndpointOptions.Policies)}:{name}";
            // Configuration keys ignore case and policy names do not, so a section that differs from a code policy's name
            // only in case is that policy too: beside it, it would count nothing and leave the code's limits in force.
            if (options.PolicyBuilders.Keys.FirstOrDefault(code => string.Equals(code, name, StringComparison.OrdinalIgnoreCase)) is { } inCode)
            {
                // Configuration binds before the code runs and may be reloaded; either side silently winning, or a merge,
                // would leave the reader of one of them believing in limits that are not in force.
                errors.Add($"{path}: a policy named '{inCode}' is also added in code (AddPolicy); define a policy in one place: remove it from the code " +
                    $"to set it from configuration, or remove this section (a code policy's defenses are set under {EmailGuardEndpointOptions.ConfigurationSectionName}:PolicyDefenses:{inCode}).");
                continue;
            }

            if (string.IsNullOrWhiteSpace(name) || name.Trim().Length != name.Length)
            {
                errors.Add($"{path}: '{name}' has whitespace around the policy name, which endpoints name without it; remove the whitespace.");
                continue;
            }

            if (Build(name, path, policy, errors) is { } builder)
            {
                builders.Add(name, builder);
            }
        }
    }

    private static EmailRateLimitPolicyBuilder? Build(string name, string path, EmailGuardPolicyOptions? policy, List<string> errors)
    {
        if (policy is null)
        {
            errors.Add($"{path} is empty; give it Partitions, e.g. {path}:Partitions:0 = {Example}.");
            return null;
        }

        int failures = errors.Count;
        CheckDefined(policy.FailureMode, $"{path}:FailureMode", errors);
        CheckDefined(policy.WhenFieldMissing, $"{path}:WhenFieldMissing", errors);
        CheckDefined(policy.WhenFieldRepeated, $"{path}:WhenFieldRepeated", errors);
        CheckDefined(policy.WhenValueMissing, $"{path}:WhenValueMissing", errors);
        if (policy.Partitions is not { Count: > 0 })
        {
            errors.Add($"{path}:Partitions is empty: a policy counts requests in at least one partition, e.g. {path}:Partitions:0 = {Example}.");
            return null;
        }

        var builder = new EmailRateLimitPolicyBuilder(name);
        var seen = new List<(string Identity, string Path)>();
        for (int i = 0; i < policy.Partitions.Count; i++)
        {
            string partitionPath = string.Create(CultureInfo.InvariantCulture, $"{path}:Partitions:{StrictConfiguration.ItemKey(policy.Partitions, i)}");
            if (CheckPartition(policy.Partitions[i], partitionPath, errors) is not { } partition)
            {
                continue;
            }

            string identity = Identity(partition);
            if (seen.FirstOrDefault(s => string.Equals(s.Identity, identity, StringComparison.OrdinalIgnoreCase)) is { Path: { } first })
            {
                // Two partitions of one kind and name would count every request twice under one key prefix.
                errors.Add($"{partitionPath} counts by the same {Describe(partition)} as {first}; put the rules of both in one partition.");
                continue;
            }

            seen.Add((identity, partitionPath));
            if (Rules(partition, partitionPath, errors) is { } rules)
            {
                Add(builder, partition, rules);
            }
        }

        if (policy.WhenValueMissing is MissingValueBehavior.ShareOneBucket or MissingValueBehavior.Reject
            && !policy.Partitions.Any(p => p?.PartitionBy is PolicyPartitionKind.User or PolicyPartitionKind.TenantClaim or PolicyPartitionKind.TenantHeader or PolicyPartitionKind.RouteValue))
        {
            // Read by nothing here, it would leave the reader believing requests without a client address or field were answered by it.
            errors.Add($"{path}:WhenValueMissing applies only to a policy with a PartitionBy User, TenantClaim, TenantHeader or RouteValue partition; this one has none. " +
                $"A request without a client address follows {EmailGuardEndpointOptions.ConfigurationSectionName}:MissingClientIp, one without a field {path}:WhenFieldMissing.");
        }

        if (errors.Count > failures)
        {
            return null;
        }

        builder.WithFailureMode(policy.FailureMode)
            .InShadowMode(policy.ShadowMode)
            .WhenFieldMissing(policy.WhenFieldMissing)
            .WhenFieldRepeated(policy.WhenFieldRepeated)
            .WhenValueMissing(policy.WhenValueMissing);
        if (policy.QuotaHeaders is { } quotaHeaders)
        {
            builder.WithQuotaHeaders(quotaHeaders);
        }

        return builder;
    }

    /// <summary>The partition when its kind, name, prefix lengths and comparison fit together; every misfit is an error.</summary>
    private static EmailGuardPolicyPartitionOptions? CheckPartition(EmailGuardPolicyPartitionOptions? partition, string path, List<string> errors)
    {
        if (partition is null)
        {
            errors.Add($"{path} is empty; a partition is e.g. {Example}.");
            return null;
        }

        if (!Enum.IsDefined(partition.PartitionBy))
        {
            errors.Add($"{path}:PartitionBy: '{partition.PartitionBy}' is not one of {string.Join(", ", Enum.GetNames<PolicyPartitionKind>())}.");
            return null;
        }

        int failures = errors.Count;
        PolicyPartitionKind kind = partition.PartitionBy;
        if (NameOf(kind) is { } named)
        {
            if (string.IsNullOrWhiteSpace(partition.Name))
            {
                errors.Add($"{path}:Name is empty; a {kind} partition needs the name of the {named} it counts by.");
            }
            else if (partition.Name.Trim().Length != partition.Name.Length)
            {
                errors.Add($"{path}:Name is '{partition.Name}', with whitespace around the {named}; remove the whitespace.");
            }
        }
        else if (partition.Name is not null)
        {
            errors.Add($"{path}:Name applies only to PartitionBy TenantClaim, TenantHeader, Field or RouteValue; this partition is counted by {kind}.");
        }

        if (kind == PolicyPartitionKind.ClientNetwork)
        {
            CheckPrefix(partition.IPv4PrefixLength, 32, $"{path}:IPv4PrefixLength", errors);
            CheckPrefix(partition.IPv6PrefixLength, 128, $"{path}:IPv6PrefixLength", errors);
        }
        else
        {
            foreach ((string setting, int? value) in new[] { ("IPv4PrefixLength", partition.IPv4PrefixLength), ("IPv6PrefixLength", partition.IPv6PrefixLength) })
            {
                if (value is not null)
                {
                    errors.Add($"{path}:{setting} applies only to PartitionBy ClientNetwork; this partition is counted by {kind}.");
                }
            }
        }

        if (partition.Comparison is { } comparison)
        {
            if (kind is PolicyPartitionKind.ClientIp or PolicyPartitionKind.ClientNetwork or PolicyPartitionKind.Field)
            {
                // A Field partition folds addresses by the send guard's AddressNormalization, and addresses have no case setting.
                errors.Add($"{path}:Comparison applies only to PartitionBy User, TenantClaim, TenantHeader or RouteValue; this partition is counted by {kind}.");
            }
            else
            {
                CheckDefined(comparison, $"{path}:Comparison", errors);
            }
        }

        return errors.Count > failures ? null : partition;
    }

    private static RateLimitRule[]? Rules(EmailGuardPolicyPartitionOptions partition, string path, List<string> errors)
    {
        if (partition.Rules is not { Count: > 0 })
        {
            errors.Add($"{path}:Rules is empty: a partition needs at least one rule, e.g. {path}:Rules:0 = {{ \"Limit\": 5, \"Window\": \"00:15:00\" }}.");
            return null;
        }

        int failures = errors.Count;
        var valid = new List<(RateLimitRule Rule, string Path)>();
        for (int i = 0; i < partition.Rules.Count; i++)
        {
            string rulePath = string.Create(CultureInfo.InvariantCulture, $"{path}:Rules:{StrictConfiguration.ItemKey(partition.Rules, i)}");
            RateLimitRuleOptions? rule = partition.Rules[i];
            if (rule is null)
            {
                errors.Add($"{rulePath} is empty.");
                continue;
            }

            if (rule.Validate(rulePath) is { } failure)
            {
                errors.Add(failure);
                continue;
            }

            RateLimitRule built = rule.ToRule();
            if (valid.FirstOrDefault(v => v.Rule.HasSameShape(built)) is { Path: { } same })
            {
                // One shape is one counter: a code policy keeps the stricter of two silently; configuration says which it meant.
                errors.Add($"{rulePath} has the same window and algorithm as {same}; give each rule of a partition its own window.");
                continue;
            }

            valid.Add((built, rulePath));
        }

        return errors.Count > failures ? null : [.. valid.Select(v => v.Rule)];
    }

    private static void Add(EmailRateLimitPolicyBuilder builder, EmailGuardPolicyPartitionOptions partition, RateLimitRule[] rules)
    {
        PartitionValueComparison comparison = partition.Comparison ?? PartitionValueComparison.IgnoreCase;
        _ = partition.PartitionBy switch
        {
            PolicyPartitionKind.ClientIp => builder.PerClientIp(rules),
            PolicyPartitionKind.ClientNetwork => builder.PerClientNetwork(
                partition.IPv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength, partition.IPv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength, rules),
            PolicyPartitionKind.User => builder.PerUser(comparison, rules),
            PolicyPartitionKind.TenantClaim => builder.PerTenantClaim(partition.Name!, comparison, rules),
            PolicyPartitionKind.TenantHeader => builder.PerTenantHeader(partition.Name!, comparison, rules),
            PolicyPartitionKind.Field => builder.PerField(partition.Name!, rules),
            _ => builder.PerRouteValue(partition.Name!, comparison, rules),
        };
    }

    /// <summary>What a partition counts by, as far as its counters go: a tenant partition's key holds no claim or header name.</summary>
    private static string Identity(EmailGuardPolicyPartitionOptions partition) => partition.PartitionBy switch
    {
        PolicyPartitionKind.ClientNetwork => string.Create(CultureInfo.InvariantCulture,
            $"network-{partition.IPv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength}-{partition.IPv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength}"),
        PolicyPartitionKind.Field or PolicyPartitionKind.RouteValue => $"{partition.PartitionBy}-{partition.Name}",
        _ => partition.PartitionBy.ToString(),
    };

    private static string Describe(EmailGuardPolicyPartitionOptions partition) => partition.PartitionBy switch
    {
        PolicyPartitionKind.ClientNetwork => string.Create(CultureInfo.InvariantCulture,
            $"ClientNetwork (/{partition.IPv4PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv4PrefixLength}, /{partition.IPv6PrefixLength ?? EmailGuardPathRule.DefaultNetworkIPv6PrefixLength})"),
        PolicyPartitionKind.Field or PolicyPartitionKind.RouteValue => $"{partition.PartitionBy} '{partition.Name}'",
        _ => partition.PartitionBy.ToString(),
    };

    private static string? NameOf(PolicyPartitionKind kind) => kind switch
    {
        PolicyPartitionKind.TenantClaim => "claim type",
        PolicyPartitionKind.TenantHeader => "request header",
        PolicyPartitionKind.Field => "field",
        PolicyPartitionKind.RouteValue => "route parameter",
        _ => null,
    };

    private static void CheckPrefix(int? value, int max, string setting, List<string> errors)
    {
        if (value is { } length && (length < 1 || length > max))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} must be between 1 and {max}; it is {length}."));
        }
    }

    private static void CheckDefined<TEnum>(TEnum value, string setting, List<string> errors)
        where TEnum : struct, Enum
    {
        // The binder turns any number into an enum, and code may cast one; left to the builder it would throw an
        // ArgumentException that names no setting.
        if (!Enum.IsDefined(value))
        {
            errors.Add($"{setting}: '{value}' is not one of {string.Join(", ", Enum.GetNames<TEnum>())}.");
        }
    }
}
