namespace EmailGuard;

/// <summary>A page of list entries to return.</summary>
public sealed class EmailGuardListQuery
{
    /// <summary>The most entries one page may hold.</summary>
    public const int MaxTake = 1_000;

    /// <summary>Gets the list.</summary>
    /// <value>The default value is <see cref="EmailGuardListKind.Blocklist"/>.</value>
    public EmailGuardListKind Kind { get; init; } = EmailGuardListKind.Blocklist;

    /// <summary>Gets the kind of party to filter by.</summary>
    public EmailGuardPartyType? PartyType { get; init; }

    /// <summary>Gets text the value, reason or adder must contain (case-insensitive).</summary>
    public string? Search { get; init; }

    /// <summary>Gets the reason to filter by (exact, case-insensitive).</summary>
    public string? Reason { get; init; }

    /// <summary>Gets whether expired entries (still retained) are included.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool IncludeExpired { get; init; }

    /// <summary>Gets the ordering.</summary>
    /// <value>The default value is <see cref="EmailGuardListOrder.CreatedAt"/>.</value>
    public EmailGuardListOrder OrderBy { get; init; } = EmailGuardListOrder.CreatedAt;

    /// <summary>
    /// Gets whether the order is descending; <see langword="null"/> for the natural order of <see cref="OrderBy"/>: newest
    /// first for <see cref="EmailGuardListOrder.CreatedAt"/>, soonest to expire first for
    /// <see cref="EmailGuardListOrder.ExpiresAt"/> (entries that never expire last), A to Z for
    /// <see cref="EmailGuardListOrder.Value"/> and <see cref="EmailGuardListOrder.Reason"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public bool? Descending { get; init; }

    /// <summary>Whether the listing runs descending: <see cref="Descending"/>, or the natural order of <see cref="OrderBy"/>.</summary>
    internal bool IsDescending => Descending ?? OrderBy == EmailGuardListOrder.CreatedAt;

    /// <summary>Gets the entries to skip.</summary>
    public int Skip { get; init; }

    /// <summary>Gets the page size, 1 to <see cref="MaxTake"/>.</summary>
    /// <value>The default value is 50.</value>
    public int Take { get; init; } = 50;
}
