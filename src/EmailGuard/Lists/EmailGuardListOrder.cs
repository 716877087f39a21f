namespace EmailGuard;

/// <summary>How list entries are ordered.</summary>
public enum EmailGuardListOrder
{
    /// <summary>By when they were added.</summary>
    CreatedAt = 0,

    /// <summary>By party value (ordinal).</summary>
    Value = 1,

    /// <summary>By expiry; entries without expiry last.</summary>
    ExpiresAt = 2,

    /// <summary>By reason, then value.</summary>
    Reason = 3,
}
