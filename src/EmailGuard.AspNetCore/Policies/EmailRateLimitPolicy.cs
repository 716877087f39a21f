namespace EmailGuard.AspNetCore;

/// <summary>A policy compiled for the hot path: partitions with precomputed keys and header items.</summary>
internal sealed class EmailRateLimitPolicy
{
    /// <param name="builder">The policy as the app described it.</param>
    /// <param name="defaultQuotaHeaders">Whether allowed responses carry quota headers unless the policy says otherwise.</param>
    /// <param name="keyScope">Keeps the counters of policies and path rules apart even when their names collide.</param>
    public EmailRateLimitPolicy(EmailRateLimitPolicyBuilder builder, bool defaultQuotaHeaders, string keyScope = "p")
    {
        if (builder.Partitions.Count == 0)
        {
            throw new InvalidOperationException(
                $"The EmailGuard endpoint policy '{builder.Name}' has no partitions; add one with PerClientIp, PerUser, PerTenant…, PerField, PerRouteValue or PerKey.");
        }

        Name = builder.Name;
        Partitions = [.. builder.Partitions];
        FailureMode = builder.FailureMode;
        ShadowMode = builder.ShadowMode;
        QuotaHeaders = builder.QuotaHeaders ?? defaultQuotaHeaders;
        MissingField = builder.MissingField;
        RepeatedField = builder.RepeatedField;
        MissingValue = builder.MissingValue;
        var fields = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (EmailRateLimitPartition partition in Partitions)
        {
            string identity = $"{partition.KindTag}-{partition.Name}";
            if (!seen.Add(identity))
            {
                throw new InvalidOperationException(
                    $"The EmailGuard endpoint policy '{Name}' has two '{partition.KindTag}' partitions named '{partition.Name}'; give each rule to one partition.");
            }

            partition.Compile(keyScope + "." + Name, Name);
            RuleCount += partition.Rules.Length;
            HasClientIpPartition |= partition.Kind is PartitionKind.ClientIp or PartitionKind.ClientNetwork;
            if (partition.Kind == PartitionKind.Field && !fields.Contains(partition.Name!, StringComparer.OrdinalIgnoreCase))
            {
                fields.Add(partition.Name!);
            }
        }

        HasValuePartition = Array.Exists(Partitions, p => p.Resolver is not null);
        if (MissingValue != MissingValueBehavior.Skip && !HasValuePartition)
        {
            // Set where nothing reads it, it would leave a reader believing requests without a client address or a field
            // were answered by it.
            throw new InvalidOperationException(
                $"The EmailGuard endpoint policy '{Name}' sets WhenValueMissing({MissingValue}) but has no user, tenant, route value or key partition it applies to; " +
                "a request without a client address follows EmailGuardEndpointOptions.MissingClientIp, one without a field WhenFieldMissing.");
        }

        FieldNames = [.. fields];
        PartitionsDescription = string.Join(", ", Partitions.Select(p => p.Description));
        UncountedAdvice = AspNetCore.UncountedAdvice.For(this);
        ClaimedAsPolicy = new GuardedRequest(Name, null);
        ClaimedAsPathRule = new GuardedRequest(null, Name);
    }

    public string Name { get; }

    public EmailRateLimitPartition[] Partitions { get; }

    public StoreFailureMode FailureMode { get; }

    public bool ShadowMode { get; }

    public bool QuotaHeaders { get; }

    public MissingFieldBehavior MissingField { get; }

    public RepeatedFieldBehavior RepeatedField { get; }

    public MissingValueBehavior MissingValue { get; }

    /// <summary>Whether the policy has a user, tenant, route value or key partition: those <see cref="MissingValue"/> applies to.</summary>
    public bool HasValuePartition { get; }

    /// <summary>What the policy counts by, for the operator's logs: <c>tenant header 'X-Tenant', user</c>.</summary>
    public string PartitionsDescription { get; }

    /// <summary>What would make the policy count a request it counted in none of its partitions, for warning 3118.</summary>
    public string UncountedAdvice { get; }

    /// <summary>Whether a request's client IP is one of the policy's keys.</summary>
    public bool HasClientIpPartition { get; }

    /// <summary>The body fields the policy needs, read once per request.</summary>
    public string[] FieldNames { get; }

    public int RuleCount { get; }

    /// <summary>A request's claim of this policy alone, as its endpoint policy.</summary>
    public GuardedRequest ClaimedAsPolicy { get; }

    /// <summary>A request's claim of this policy alone, as its path rule.</summary>
    public GuardedRequest ClaimedAsPathRule { get; }

    /// <summary>The policy's latest "too many requests" answer, which a flood gets over and over.</summary>
    public RejectionBodyCache Rejections { get; } = new();

    /// <summary>
    /// The requests the policy counted in none of its partitions, and when that was last logged: the policy's of the same
    /// name before a reload, when there was one (<see cref="KeepUncountedOf"/>).
    /// </summary>
    public UncountedRequests Uncounted { get; private set; } = new();

    /// <summary>
    /// Takes over the uncounted requests of <paramref name="previous"/>, the policy of this name that a reload replaces,
    /// so that warning 3118 keeps its interval and its next line speaks for every request since the last one, the
    /// requests noted under the old rules included. Called before this policy is in force: the two share one instance,
    /// so a request still running under the old rules is counted too.
    /// </summary>
    public void KeepUncountedOf(EmailRateLimitPolicy previous) => Uncounted = previous.Uncounted;
}
