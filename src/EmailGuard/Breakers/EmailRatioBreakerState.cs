namespace EmailGuard;

/// <summary>Where a party's ratio breaker stands, as <see cref="EmailPartyRatioStatus"/> reports it.</summary>
public enum EmailRatioBreakerState
{
    /// <summary>Not known: the default value, never reported for a party that was read.</summary>
    Unknown = 0,

    /// <summary>The breaker is closed: the party sends at its normal limits. Parties without a breaker of their own (senders) are always closed.</summary>
    Closed = 1,

    /// <summary>The breaker tripped: the party's limits are reduced, it is suspended, or its client network is banned.</summary>
    Tripped = 2,

    /// <summary>The trip ended and the party sends at reduced limits while its ratios are measured over what it sends.</summary>
    HalfOpen = 3,
}
