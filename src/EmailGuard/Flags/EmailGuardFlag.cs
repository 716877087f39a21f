using System.Globalization;

namespace EmailGuard;

/// <summary>An active or past flag on a user, tenant, category or tenant pool.</summary>
public sealed class EmailGuardFlag
{
    /// <summary>
    /// Gets the kind of party: <see cref="EmailGuardPartyType.User"/>, <see cref="EmailGuardPartyType.Tenant"/>,
    /// <see cref="EmailGuardPartyType.Category"/> or <see cref="EmailGuardPartyType.TenantPool"/>.
    /// </summary>
    public required EmailGuardPartyType PartyType { get; init; }

    /// <summary>Gets the user or tenant id.</summary>
    public required string PartyId { get; init; }

    /// <summary>Gets the reason, e.g. <see cref="EmailGuardFlagReasons.HighBounceRate"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>Gets when the flag was set.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when the flag ends.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>Gets whether the flag suspends sending outright.</summary>
    public bool Suspend { get; init; }

    /// <summary>Gets the share of the normal limits the party keeps while flagged (1 when suspended).</summary>
    public double LimitFactor { get; init; } = 1;

    /// <summary>Gets who set the flag.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>Gets free-form details, e.g. the bounce rate that triggered the flag.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Whether the flag applies at <paramref name="now"/>.</summary>
    /// <param name="now">The time.</param>
    /// <returns><see langword="true"/> while the flag has not expired.</returns>
    public bool IsActive(DateTimeOffset now) => ExpiresAt > now;

    /// <summary>
    /// The flag in one line for a log or a debugger, e.g. <c>Tenant acme suspended: manual, until 2026-12-02 10:00:00Z</c>;
    /// the party id and reason are escaped as log values are, so that an id cannot break or forge the line.
    /// </summary>
    /// <returns>The party, what the flag does, its reason and its expiry.</returns>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{PartyType} {LogValue.Of(PartyId)} {(Suspend ? "suspended" : $"flagged (limits at {(int)Math.Round(LimitFactor * 100)} percent)")}: {LogValue.Of(Reason)}, until {ExpiresAt:u}");
}
