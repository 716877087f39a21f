namespace EmailGuard;

/// <summary>
/// A view of lists and flags at one state version, so that a check reads plain dictionaries and skips every lookup when
/// a list is empty. Flags are fixed per snapshot; the lists are a <see cref="GuardListIndex"/> that a later snapshot
/// brought up to date by changes shares, so an older snapshot's lookups see newer entries, never older ones.
/// </summary>
internal sealed class GuardStateSnapshot
{
    public static readonly GuardStateSnapshot Empty = new(new EmailGuardStateData(long.MinValue, [], []));

    private readonly GuardListIndex _lists;
    private readonly IReadOnlyList<EmailGuardFlag> _flagList;
    private readonly Dictionary<(EmailGuardPartyType, string), EmailGuardFlag[]> _flags = [];
    private EmailGuardStateData? _data;

    /// <param name="data">The lists and flags.</param>
    /// <param name="normalization">
    /// How addresses fold: entries are keyed by the form the guard looks them up in, whatever spelling they were stored in.
    /// </param>
    /// <param name="previous">The snapshot this one replaces, whose normalized values are reused.</param>
    public GuardStateSnapshot(EmailGuardStateData data, EmailAddressNormalizationOptions? normalization = null, GuardStateSnapshot? previous = null)
        : this(data.Version, GuardListIndex.Build(data.ListEntries, normalization, previous?._lists), data.Flags)
        => _data = data;

    private GuardStateSnapshot(long version, GuardListIndex lists, IReadOnlyList<EmailGuardFlag> flags, Dictionary<(EmailGuardPartyType, string), EmailGuardFlag[]>? byParty = null)
    {
        Version = version;
        _lists = lists;
        _flagList = flags;
        if (byParty is not null)
        {
            // The flags did not change: their lookup is shared, never written after it was built.
            _flags = byParty;
        }
        else
        {
            foreach (IGrouping<(EmailGuardPartyType PartyType, string PartyId), EmailGuardFlag> group in flags.GroupBy(f => (f.PartyType, f.PartyId)))
            {
                _flags[group.Key] = [.. group];
            }
        }

        HasBlocks = lists.HasBlocks;
        HasAllows = lists.HasAllows;
        HasCategoryRecipientBlocks = lists.HasCategoryRecipientBlocks;
        HasFlags = _flags.Count > 0;
    }

    public long Version { get; }

    /// <summary>
    /// The lists and flags as data. The lists are read from the index when first asked for: a snapshot brought up to
    /// date by changes shares its index with the one it replaced, so this may show changes newer than <see cref="Version"/>.
    /// </summary>
    public EmailGuardStateData Data => _data ??= new EmailGuardStateData(Version, _lists.Entries(), _flagList);

    /// <summary>Every unexpired flag, as loaded.</summary>
    public IReadOnlyList<EmailGuardFlag> Flags => _flagList;

    /// <summary>How many list entries the index holds, expired ones still retained included.</summary>
    public int ListEntryCount => _lists.Count;

    public bool HasBlocks { get; }

    public bool HasAllows { get; }

    /// <summary>Whether any recipient is blocked for one category (an unsubscribe), so checks of messages with a category look it up.</summary>
    public bool HasCategoryRecipientBlocks { get; }

    public bool HasFlags { get; }

    /// <summary>
    /// The blocklist entry in force for a party; for a recipient domain, that of the domain or of the nearest domain above
    /// it (<see cref="GuardListIndex.FindBlockedDomain"/>).
    /// </summary>
    public EmailGuardListEntry? FindBlocked(EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => partyType == EmailGuardPartyType.RecipientDomain
            ? value is null ? null : _lists.FindBlockedDomain(value, now)
            : Find(EmailGuardListKind.Blocklist, partyType, value, now);

    public EmailGuardListEntry? FindAllowed(EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => Find(EmailGuardListKind.Allowlist, partyType, value, now);

    /// <summary>
    /// The snapshot after <paramref name="changes"/>. The index is brought up to date in place and shared with this
    /// snapshot, whose checks see the changes too: only the state cache calls this, on the snapshot in force.
    /// </summary>
    public GuardStateSnapshot WithChanges(EmailGuardStateChanges changes)
    {
        _lists.Apply(changes);
        return changes.Flags is { } flags
            ? new GuardStateSnapshot(changes.Version, _lists, flags)
            : new GuardStateSnapshot(changes.Version, _lists, _flagList, _flags);
    }

    /// <summary>Every stored value of a list whose match form is <paramref name="match"/>: what to remove to unlist the party.</summary>
    public IReadOnlyList<string> StoredValues(EmailGuardListKind kind, EmailGuardPartyType partyType, string match)
        => _lists.StoredValues(kind, partyType, match);

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

    private EmailGuardListEntry? Find(EmailGuardListKind kind, EmailGuardPartyType partyType, string? value, DateTimeOffset now)
        => value is not null && _lists.Find(kind, partyType, value) is { } entry && entry.IsActive(now) ? entry : null;
}
