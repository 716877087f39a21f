namespace EmailGuard.Dashboard;

/// <summary>
/// The incident a breaker's trip belongs to (<see cref="Key"/>): a ratio breaker's party and reason, or an endpoint
/// policy's surge breaker; and when the trip is over unless it trips again (<see cref="EndsAt"/>: for a ratio breaker
/// the end of its half-open phase, else of the trip or the network's ban; null until a surge breaker recovers). A
/// recovery ends it when it happens (<see cref="EmailRatioBreakerRecoveredArguments.RecoveredAt"/>, a surge breaker's
/// recovered event).
/// </summary>
internal readonly record struct BreakerIncident(string Key, DateTimeOffset? EndsAt)
{
    public static BreakerIncident Of(EmailRatioBreakerArguments tripped)
        => new(RatioKey(tripped.Dimension, tripped.Partition, tripped.Reason), tripped.HalfOpenUntil ?? tripped.ExpiresAt);

    /// <summary>One key per party and reason, whatever the action: a reduction that becomes a suspension is the same incident.</summary>
    public static string RatioKey(EmailGuardDimension dimension, string partition, string reason) => $"ratio:{dimension}:{reason}:{partition}";

    /// <summary>One key per endpoint policy's surge breaker.</summary>
    public static string SurgeKey(string policy) => $"surge:{policy}";
}
