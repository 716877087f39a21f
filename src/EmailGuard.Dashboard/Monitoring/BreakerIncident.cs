namespace EmailGuard.Dashboard;

/// <summary>
/// The incident a ratio breaker's trip belongs to: its party and reason (<see cref="Key"/>), and when the trip is over
/// unless it trips again (<see cref="EndsAt"/>: the end of its half-open phase, else of the trip or the network's ban).
/// A recovery ends it earlier or later, at <see cref="EmailRatioBreakerRecoveredArguments.RecoveredAt"/>.
/// </summary>
internal readonly record struct BreakerIncident(string Key, DateTimeOffset EndsAt)
{
    public static BreakerIncident Of(EmailRatioBreakerArguments tripped)
        => new(KeyOf(tripped.Dimension, tripped.Partition, tripped.Reason), tripped.HalfOpenUntil ?? tripped.ExpiresAt);

    /// <summary>One key per party and reason, whatever the action: a reduction that becomes a suspension is the same incident.</summary>
    public static string KeyOf(EmailGuardDimension dimension, string partition, string reason) => $"ratio:{dimension}:{reason}:{partition}";
}
