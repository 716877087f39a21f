namespace EmailGuard;

/// <summary>A recorded flag or clear, for the audit trail.</summary>
public sealed class EmailGuardFlagEvent
{
    /// <summary>Gets what happened.</summary>
    public required EmailGuardFlagEventKind Kind { get; init; }

    /// <summary>Gets the kind of party.</summary>
    public required EmailGuardPartyType PartyType { get; init; }

    /// <summary>Gets the user or tenant id.</summary>
    public required string PartyId { get; init; }

    /// <summary>Gets the reason of the flag set or cleared.</summary>
    public string? Reason { get; init; }

    /// <summary>Gets why a flag was cleared, as the caller of <see cref="IEmailGuardFlags.ClearAsync"/> gave it.</summary>
    public string? Comment { get; init; }

    /// <summary>Gets when it happened.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets when the flag ends, for a flag or suspension.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Gets who did it.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>Gets free-form details.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}
