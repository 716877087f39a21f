namespace EmailGuard;

/// <summary>The arguments of <see cref="EmailRatioBreakerOptions.OnTripped"/>.</summary>
public sealed class EmailRatioBreakerArguments
{
    /// <summary>Gets the dimension of the party: tenant, user, or client IP (the network).</summary>
    public required EmailGuardDimension Dimension { get; init; }

    /// <summary>Gets the party: a tenant or user id, <c>pool:&lt;name&gt;</c> for a tenant pool, or a client network in CIDR notation.</summary>
    public required string Partition { get; init; }

    /// <summary>
    /// Gets the tenant pool the breaker judged, by its name in lower case, when the party is a pool
    /// (<see cref="EmailGuardPartyType.TenantPool"/>): then <see cref="Dimension"/> is <see cref="EmailGuardDimension.Tenant"/>
    /// and <see cref="Partition"/> is <c>pool:&lt;name&gt;</c>, as the pool's denials name it. <see langword="null"/> for any other party.
    /// </summary>
    public string? TenantPool { get; init; }

    /// <summary>Gets the reason: <see cref="EmailGuardFlagReasons.HighBounceRate"/> or <see cref="EmailGuardFlagReasons.ComplaintRate"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets what the breaker did.</summary>
    public required EmailRatioBreakerAction Action { get; init; }

    /// <summary>Gets the counts the breaker decided on.</summary>
    public required EmailFeedbackCounts Counts { get; init; }

    /// <summary>Gets when the trip ends.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Gets how many times in a row the party tripped (1 for a first trip), which set how long the trip lasts.</summary>
    public int Level { get; init; } = 1;

    /// <summary>Gets when the half-open phase after the trip ends; <see langword="null"/> for a client network, or when it is off.</summary>
    public DateTimeOffset? HalfOpenUntil { get; init; }

    /// <summary>Gets the endpoint policy of the request that caused the mail, when the attribution names one.</summary>
    public string? EndpointPolicy { get; init; }
}
