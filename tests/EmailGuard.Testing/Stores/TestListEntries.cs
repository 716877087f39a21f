namespace EmailGuard.Testing.Stores;

/// <summary>List entries for the state tests: a hard-bounce suppression of a recipient unless told otherwise.</summary>
public static class TestListEntries
{
    /// <summary>When every entry built here was created.</summary>
    public static readonly DateTimeOffset CreatedAt = new(2026, 12, 4, 9, 0, 0, TimeSpan.Zero);

    /// <summary>A list entry of <paramref name="value"/>, created at <see cref="CreatedAt"/>.</summary>
    /// <param name="value">The stored value.</param>
    /// <param name="kind">The list.</param>
    /// <param name="partyType">The kind of party.</param>
    /// <param name="expiresAt">When it expires; never when null.</param>
    /// <param name="reason">Why it is listed.</param>
    /// <param name="createdBy">Who listed it.</param>
    /// <returns>The entry.</returns>
    public static EmailGuardListEntry Entry(
        string value,
        EmailGuardListKind kind = EmailGuardListKind.Blocklist,
        EmailGuardPartyType partyType = EmailGuardPartyType.Recipient,
        DateTimeOffset? expiresAt = null,
        string reason = "hard_bounce",
        string? createdBy = null) => new()
        {
            Kind = kind,
            PartyType = partyType,
            Value = value,
            Reason = reason,
            CreatedBy = createdBy,
            CreatedAt = CreatedAt,
            ExpiresAt = expiresAt,
        };
}
