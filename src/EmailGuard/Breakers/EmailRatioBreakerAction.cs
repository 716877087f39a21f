namespace EmailGuard;

/// <summary>What a ratio breaker did when it tripped.</summary>
public enum EmailRatioBreakerAction
{
    /// <summary>Nothing: the default value, never raised.</summary>
    None = 0,

    /// <summary>The party's limits were reduced.</summary>
    Reduced = 1,

    /// <summary>The party was suspended.</summary>
    Suspended = 2,

    /// <summary>The client network was put on the blocklist for the endpoints.</summary>
    NetworkBanned = 3,
}
