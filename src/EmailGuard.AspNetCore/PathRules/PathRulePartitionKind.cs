namespace EmailGuard.AspNetCore;

/// <summary>Who a path rule's limit is counted for.</summary>
public enum PathRulePartitionKind
{
    /// <summary>Each client IP (IPv6 grouped by prefix) has its own counter.</summary>
    ClientIp = 0,

    /// <summary>All clients share one counter for the endpoint.</summary>
    Global = 1,
}
