namespace EmailGuard;

/// <summary>A tenant's own limits, replacing the default tenant rules.</summary>
public sealed class TenantLimits
{
    /// <summary>
    /// Gets the rules of the tenant dimension. Give rules of the same window as the defaults to keep the counters
    /// (a counter is identified by its window, not its limit); an empty list leaves the tenant unlimited.
    /// </summary>
    public IReadOnlyList<RateLimitRule> Rules { get; init; } = [];
}
