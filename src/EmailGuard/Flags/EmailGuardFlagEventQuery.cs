namespace EmailGuard;

/// <summary>Which recorded flag events to return, newest first.</summary>
public sealed class EmailGuardFlagEventQuery
{
    /// <summary>Gets the kind of party to filter by.</summary>
    public EmailGuardPartyType? PartyType { get; init; }

    /// <summary>Gets the party id to filter by (exact).</summary>
    public string? PartyId { get; init; }

    /// <summary>Gets the earliest time to include.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Gets the most events to return.</summary>
    /// <value>The default value is 100.</value>
    public int Take { get; init; } = 100;
}
