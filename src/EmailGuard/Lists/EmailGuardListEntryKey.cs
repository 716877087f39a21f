namespace EmailGuard;

/// <summary>
/// What names one list entry in a state store: its list, its kind of party and its stored value. A store holds at most
/// one entry per key (see <see cref="IEmailGuardStateStore.UpsertListEntryAsync"/>).
/// </summary>
/// <param name="Kind">The list.</param>
/// <param name="PartyType">The kind of party.</param>
/// <param name="Value">The stored value, exactly (ordinal comparison).</param>
public readonly record struct EmailGuardListEntryKey(EmailGuardListKind Kind, EmailGuardPartyType PartyType, string Value);
