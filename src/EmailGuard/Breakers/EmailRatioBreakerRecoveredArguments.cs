namespace EmailGuard;

/// <summary>The arguments of <see cref="EmailRatioBreakerOptions.OnRecovered"/>: a half-open breaker's probe stayed under the lines.</summary>
public sealed class EmailRatioBreakerRecoveredArguments
{
    /// <summary>Gets the dimension of the party: <see cref="EmailGuardDimension.Tenant"/> or <see cref="EmailGuardDimension.User"/>.</summary>
    public required EmailGuardDimension Dimension { get; init; }

    /// <summary>Gets the party: a tenant or user id, or <c>pool:&lt;name&gt;</c> for a tenant pool.</summary>
    public required string Partition { get; init; }

    /// <summary>
    /// Gets the tenant pool whose breaker recovered, by its name in lower case (<see cref="EmailGuardPartyType.TenantPool"/>):
    /// then <see cref="Partition"/> is <c>pool:&lt;name&gt;</c>. <see langword="null"/> for a tenant or user.
    /// </summary>
    public string? TenantPool { get; init; }

    /// <summary>Gets the reason the breaker had tripped on: <see cref="EmailGuardFlagReasons.HighBounceRate"/> or <see cref="EmailGuardFlagReasons.ComplaintRate"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets the messages the party sent while half-open.</summary>
    public required long ProbeSends { get; init; }

    /// <summary>Gets the hard bounces (or complaints, for <see cref="EmailGuardFlagReasons.ComplaintRate"/>) reported for the party while half-open.</summary>
    public required long ProbeFailures { get; init; }

    /// <summary>Gets how many times in a row the party had tripped; a trip within <see cref="EmailRatioBreakerOptions.EscalationMemory"/> goes on from it.</summary>
    public required int Level { get; init; }

    /// <summary>Gets when the breaker recovered.</summary>
    public required DateTimeOffset RecoveredAt { get; init; }
}
