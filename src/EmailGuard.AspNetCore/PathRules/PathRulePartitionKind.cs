namespace EmailGuard.AspNetCore;

/// <summary>Who a path rule's limit is counted for.</summary>
public enum PathRulePartitionKind
{
    /// <summary>Each client IP (IPv6 grouped by prefix) has its own counter.</summary>
    ClientIp = 0,

    /// <summary>All clients share one counter for the endpoint.</summary>
    Global = 1,

    /// <summary>
    /// Each client network has its own counter: every client in one IPv4 /<see cref="EmailGuardPathRule.IPv4PrefixLength"/>
    /// or IPv6 /<see cref="EmailGuardPathRule.IPv6PrefixLength"/> shares it, so a bot holding a whole network cannot
    /// multiply a per-IP limit by rotating through its addresses.
    /// </summary>
    ClientNetwork = 2,
}
