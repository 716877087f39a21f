namespace EmailGuard;

/// <summary>What happened to a flag.</summary>
public enum EmailGuardFlagEventKind
{
    /// <summary>The party was flagged with reduced limits.</summary>
    Flagged = 0,

    /// <summary>The party was suspended.</summary>
    Suspended = 1,

    /// <summary>A flag was cleared before it expired.</summary>
    Cleared = 2,
}
