namespace EmailGuard;

/// <summary>
/// One party's bounce and complaint ratios, the counts behind them, and where its ratio breaker stands: what
/// <see cref="EmailGuardStatus.Ratios"/> lists for each queried party.
/// </summary>
public sealed class EmailPartyRatioStatus
{
    /// <summary>
    /// Gets the counts over <see cref="EmailFeedbackOptions.CountWindow"/>: sends, bounces and complaints, and the
    /// <see cref="EmailFeedbackCounts.BounceRate"/> and <see cref="EmailFeedbackCounts.ComplaintRate"/> over them.
    /// </summary>
    public required EmailFeedbackCounts Counts { get; init; }

    /// <summary>Gets where the party's breaker stands.</summary>
    public required EmailRatioBreakerState BreakerState { get; init; }

    /// <summary>
    /// Gets what the breaker tripped on while it is tripped or half-open: <see cref="EmailGuardFlagReasons.HighBounceRate"/>
    /// or <see cref="EmailGuardFlagReasons.ComplaintRate"/>; <see langword="null"/> while it is closed.
    /// </summary>
    public string? BreakerReason { get; init; }

    /// <summary>
    /// Gets what the breaker does to the party: <see cref="EmailRatioBreakerAction.Reduced"/> (also while half-open),
    /// <see cref="EmailRatioBreakerAction.Suspended"/> or <see cref="EmailRatioBreakerAction.NetworkBanned"/>;
    /// <see cref="EmailRatioBreakerAction.None"/> while it is closed.
    /// </summary>
    public EmailRatioBreakerAction BreakerAction { get; init; }

    /// <summary>Gets when the current phase ends: the trip, or the half-open phase; <see langword="null"/> while closed.</summary>
    public DateTimeOffset? BreakerUntil { get; init; }

    /// <summary>Gets when the half-open phase that follows the current trip ends, or the current half-open phase; <see langword="null"/> without one.</summary>
    public DateTimeOffset? HalfOpenUntil { get; init; }
}
