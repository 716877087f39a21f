namespace EmailGuard;

/// <summary>
/// An immutable view of lists and flags, built once per state version, so that a check reads plain dictionaries and
/// skips every lookup when a list is empty.
/// </summary>
internal sealed class GuardStateSnapshot
{
    public static readonly GuardStateSnapshot Empty = new(new GuardStateData(long.MinValue, [], []));

    private readonly Dictionary<(EmailGuardPartyType, string), EmailGuardListEntry> _blocked = [];
    private readonly Dictionary<(EmailGuardPartyType, string), EmailGuardListEntry> _allowed = [];
    private readonly Dictionary<(EmailGuardPartyType, string), EmailGuardFlag[]> _flags = [];

    /// <summary>Stored value to the form it is matched in, kept so a reload normalizes only entries it has not seen.</summary>
    private readonly Dictionary<(EmailGuardPartyType, string), string>? _matchForms;

    /// <param name="data">The lists and flags.</param>
    /// <param name="normalization">
    /// How addresses fold: entries are keyed by the form the guard looks them up in, whatever spelling they were stored in.
    /// </param>
    /// <param name="previous">The snapshot this one replaces, whose normalized values are reused.</param>
    public GuardStateSnapshot(GuardStateData data, EmailAddressNormalizationOptions? normalization = null, GuardStateSnapshot? previous = null)
    {
        Version = data.Version;
        Data = data;
        if (normalization is not null)
        {
            _matchForms = [];
        }

        foreach (EmailGuardListEntry entry in data.Entries)
        {
            string value = normalization is null || entry.PartyType is not (EmailGuardPartyType.Recipient or EmailGuardPartyType.Sender or EmailGuardPartyType.Domain or EmailGuardPartyType.CategoryRecipient)
                ? entry.Value
                : MatchForm(entry, normalization, previous?._matchForms);
            Dictionary<(EmailGuardPartyType, string), EmailGuardListEntry> list = entry.Kind == EmailGuardListKind.Blocklist ? _blocked : _allowed;

            // Two spellings of one party: the entry that expires last wins, so neither shortens the other.
            HasCategoryRecipientBlocks |= entry.PartyType == EmailGuardPartyType.CategoryRecipient && entry.Kind == EmailGuardListKind.Blocklist;
            if (!list.TryGetValue((entry.PartyType, value), out EmailGuardListEntry? existing) || (existing.ExpiresAt is { } a && (entry.ExpiresAt is not { } b || b > a)))
            {
                list[(entry.PartyType, value)] = entry;
            }
        }

        foreach (IGrouping<(EmailGuardPartyType PartyType, string PartyId), EmailGuardFlag> group in data.Flags.GroupBy(f => (f.PartyType, f.PartyId)))
        {
            _flags[group.Key] = [.. group];
        }

        HasBlocks = _blocked.Count > 0;
        HasAllows = _allowed.Count > 0;
        HasFlags = _flags.Count > 0;
    }

    public long Version { get; }

    public GuardStateData Data { get; }

    public bool HasBlocks { get; }

    public bool HasAllows { get; }

    /// <summary>Whether any recipient is blocked for one category (an unsubscribe), so checks of messages with a category look it up.</summary>
    public bool HasCategoryRecipientBlocks { get; }

    public bool HasFlags { get; }

    public EmailGuardListEntry? FindBlocked(EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => Find(_blocked, partyType, value, now);

    public EmailGuardListEntry? FindAllowed(EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => Find(_allowed, partyType, value, now);

    /// <summary>The combined effect of a party's active flags: suspended, or the smallest limit factor (1 when unflagged).</summary>
    public FlagEffect GetFlagEffect(EmailGuardPartyType partyType, string? partyId, DateTimeOffset now)
    {
        if (partyId is null || !_flags.TryGetValue((partyType, partyId), out EmailGuardFlag[]? flags))
        {
            return FlagEffect.None;
        }

        FlagEffect effect = FlagEffect.None;
        foreach (EmailGuardFlag flag in flags)
        {
            if (!flag.IsActive(now))
            {
                continue;
            }

            if (flag.Suspend)
            {
                if (effect.Suspension is null || flag.ExpiresAt > effect.Suspension.ExpiresAt)
                {
                    effect = effect with { Suspension = flag };
                }
            }
            else if (flag.LimitFactor < effect.LimitFactor)
            {
                effect = effect with { LimitFactor = flag.LimitFactor, Reduction = flag };
            }
        }

        return effect;
    }

    public IEnumerable<EmailGuardFlag> GetActiveFlags(EmailGuardPartyType partyType, string partyId, DateTimeOffset now)
        => _flags.TryGetValue((partyType, partyId), out EmailGuardFlag[]? flags) ? flags.Where(f => f.IsActive(now)) : [];

    /// <summary>The form <paramref name="entry"/> is matched in.</summary>
    public string MatchFormOf(EmailGuardListEntry entry)
        => _matchForms is not null && _matchForms.TryGetValue((entry.PartyType, entry.Value), out string? form) ? form : entry.Value;

    private string MatchForm(EmailGuardListEntry entry, EmailAddressNormalizationOptions normalization, Dictionary<(EmailGuardPartyType, string), string>? known)
    {
        (EmailGuardPartyType, string) key = (entry.PartyType, entry.Value);
        if (_matchForms!.TryGetValue(key, out string? form) || known?.TryGetValue(key, out form) == true)
        {
            _matchForms[key] = form;
            return form;
        }

        form = GuardPartyValues.MatchForm(entry.PartyType, entry.Value, normalization);
        _matchForms[key] = string.Equals(form, entry.Value, StringComparison.Ordinal) ? entry.Value : form;
        return form;
    }

    private static EmailGuardListEntry? Find(
        Dictionary<(EmailGuardPartyType, string), EmailGuardListEntry> entries, EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => value is not null && entries.TryGetValue((partyType, value), out EmailGuardListEntry? entry) && entry.IsActive(now) ? entry : null;
}
