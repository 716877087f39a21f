namespace EmailGuard.AspNetCore;

/// <summary>
/// One partition of a policy from configuration and its rules, e.g.
/// <c>{ "PartitionBy": "Field", "Name": "email", "Rules": [ { "Limit": 1, "Window": "00:15:00" } ] }</c>.
/// </summary>
public sealed class EmailGuardPolicyPartitionOptions
{
    /// <summary>Gets or sets what requests are counted by.</summary>
    /// <value>The default value is <see cref="PolicyPartitionKind.ClientIp"/>.</value>
    public PolicyPartitionKind PartitionBy { get; set; } = PolicyPartitionKind.ClientIp;

    /// <summary>
    /// Gets or sets the claim type (<see cref="PolicyPartitionKind.TenantClaim"/>), header
    /// (<see cref="PolicyPartitionKind.TenantHeader"/>), field (<see cref="PolicyPartitionKind.Field"/>) or route
    /// parameter (<see cref="PolicyPartitionKind.RouteValue"/>) the partition reads its value from. Required for those
    /// partitions; set on another, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Name { get; set; }

    /// <summary>
    /// Gets or sets the IPv4 prefix length, 1 to 32, a <see cref="PolicyPartitionKind.ClientNetwork"/> partition groups
    /// clients by; null for <see cref="EmailGuardPathRule.DefaultNetworkIPv4PrefixLength"/>. Set on another partition, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public int? IPv4PrefixLength { get; set; }

    /// <summary>
    /// Gets or sets the IPv6 prefix length, 1 to 128, a <see cref="PolicyPartitionKind.ClientNetwork"/> partition groups
    /// clients by; null for <see cref="EmailGuardPathRule.DefaultNetworkIPv6PrefixLength"/>. Set on another partition, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public int? IPv6PrefixLength { get; set; }

    /// <summary>
    /// Gets or sets which spellings of a value share a counter, for <see cref="PolicyPartitionKind.User"/>,
    /// <see cref="PolicyPartitionKind.TenantClaim"/>, <see cref="PolicyPartitionKind.TenantHeader"/> and
    /// <see cref="PolicyPartitionKind.RouteValue"/>; null for <see cref="PartitionValueComparison.IgnoreCase"/>. Set on
    /// another partition, it stops the app.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public PartitionValueComparison? Comparison { get; set; }

    /// <summary>
    /// Gets the rules, bound from <c>...:Rules:0:Limit</c>, <c>...:Rules:0:Window</c> and so on as the send guard's are;
    /// a request must fit every one. At least one is required.
    /// </summary>
    public IList<RateLimitRuleOptions> Rules { get; } = new List<RateLimitRuleOptions>();
}
