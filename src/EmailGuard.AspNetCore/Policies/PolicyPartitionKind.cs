namespace EmailGuard.AspNetCore;

/// <summary>
/// What a partition of a policy from configuration counts requests by; each matches one method of
/// <see cref="EmailRateLimitPolicyBuilder"/>.
/// </summary>
public enum PolicyPartitionKind
{
    /// <summary>Each client IP (IPv6 grouped by prefix) has its own counter, as <see cref="EmailRateLimitPolicyBuilder.PerClientIp"/>.</summary>
    ClientIp = 0,

    /// <summary>
    /// Each client network has its own counter, as <see cref="EmailRateLimitPolicyBuilder.PerClientNetwork"/>, grouped by
    /// <see cref="EmailGuardPolicyPartitionOptions.IPv4PrefixLength"/> and <see cref="EmailGuardPolicyPartitionOptions.IPv6PrefixLength"/>.
    /// </summary>
    ClientNetwork = 1,

    /// <summary>Each authenticated user has its own counter, as <see cref="EmailRateLimitPolicyBuilder.PerUser(RateLimitRule[])"/>.</summary>
    User = 2,

    /// <summary>
    /// Each tenant, read from the claim <see cref="EmailGuardPolicyPartitionOptions.Name"/> names, has its own counter,
    /// as <see cref="EmailRateLimitPolicyBuilder.PerTenantClaim(string, RateLimitRule[])"/>.
    /// </summary>
    TenantClaim = 3,

    /// <summary>
    /// Each tenant, read from the request header <see cref="EmailGuardPolicyPartitionOptions.Name"/> names, has its own
    /// counter, as <see cref="EmailRateLimitPolicyBuilder.PerTenantHeader(string, RateLimitRule[])"/>.
    /// </summary>
    TenantHeader = 4,

    /// <summary>
    /// Each email address in the field <see cref="EmailGuardPolicyPartitionOptions.Name"/> names has its own counter, as
    /// <see cref="EmailRateLimitPolicyBuilder.PerField"/>.
    /// </summary>
    Field = 5,

    /// <summary>
    /// Each value of the route parameter <see cref="EmailGuardPolicyPartitionOptions.Name"/> names has its own counter,
    /// as <see cref="EmailRateLimitPolicyBuilder.PerRouteValue(string, RateLimitRule[])"/>.
    /// </summary>
    RouteValue = 6,
}
