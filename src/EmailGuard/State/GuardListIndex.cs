using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// This instance's blocklist and allowlist, keyed by the form the guard looks a party up in. A full load builds one;
/// after that, each change the state store reports is applied in place, so keeping up with a list that grows by one
/// suppression at a time costs one entry's work, not the whole list's.
/// </summary>
/// <remarks>
/// <para>
/// Checks read the two lookup tables without a lock while a change is applied (they are concurrent dictionaries); a
/// check sees an entry as it was before or after the change, never half of it. Changes, listings and the reuse of match
/// forms by the next full build take <see cref="_lock"/>.
/// </para>
/// <para>
/// Two stored spellings of one party (an entry written by an older version, or straight into the store) both match it;
/// the one that expires last is in force, so neither shortens the other, and removing one leaves the other in force.
/// Stored values that differ from their match form are the only ones the index keeps a reverse map for.
/// </para>
/// </remarks>
internal sealed class GuardListIndex
{
    private readonly EmailAddressNormalizationOptions? _normalization;
    private readonly Lock _lock = new();
    private readonly Dictionary<EmailGuardListEntryKey, Stored> _stored = [];

    /// <summary>Match key to the stored values of that party that are not its match form; under <see cref="_lock"/>.</summary>
    private readonly Dictionary<EmailGuardListEntryKey, List<string>> _otherSpellings = [];

    private readonly ConcurrentDictionary<(EmailGuardPartyType, string), EmailGuardListEntry> _blocked = new();
    private readonly ConcurrentDictionary<(EmailGuardPartyType, string), EmailGuardListEntry> _allowed = new();

    /// <summary>The recipient domains of <see cref="_blocked"/> again, by domain alone, so that a domain's parents are looked up without a string each.</summary>
    private readonly ConcurrentDictionary<string, EmailGuardListEntry> _blockedDomains = new(StringComparer.Ordinal);
    private int _categoryRecipientBlocks;
    private EmailGuardListEntry[]? _entries;

    private GuardListIndex(EmailAddressNormalizationOptions? normalization) => _normalization = normalization;

    /// <summary>Whether any party is blocked.</summary>
    public bool HasBlocks => !_blocked.IsEmpty;

    /// <summary>Whether any party is allowed.</summary>
    public bool HasAllows => !_allowed.IsEmpty;

    /// <summary>Whether any recipient is blocked for one category (an unsubscribe).</summary>
    public bool HasCategoryRecipientBlocks => Volatile.Read(ref _categoryRecipientBlocks) > 0;

    /// <summary>How many entries are stored, expired ones still retained included.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _stored.Count;
            }
        }
    }

    /// <summary>
    /// Builds the index of <paramref name="entries"/>. Match forms of values <paramref name="previous"/> already held are
    /// reused, so a full reload normalizes only entries this instance has not seen.
    /// </summary>
    public static GuardListIndex Build(IReadOnlyList<EmailGuardListEntry> entries, EmailAddressNormalizationOptions? normalization, GuardListIndex? previous)
    {
        GuardListIndex index = new(normalization);
        foreach (EmailGuardListEntry entry in entries)
        {
            index.Upsert(entry, previous);
        }

        return index;
    }

    /// <summary>The entry in force on a list for a party in its match form.</summary>
    public EmailGuardListEntry? Find(EmailGuardListKind kind, EmailGuardPartyType partyType, string value)
        => (kind == EmailGuardListKind.Blocklist ? _blocked : _allowed).TryGetValue((partyType, value), out EmailGuardListEntry? entry) ? entry : null;

    /// <summary>
    /// The blocklist entry in force for a recipient domain in its match form, or else for the nearest domain above it
    /// that has one: blocking <c>example.com</c> blocks <c>mail.example.com</c> and every other name under it, which its
    /// owner can make up without end (a wildcard MX record). Allowlist entries name one domain, never those under it.
    /// </summary>
    public EmailGuardListEntry? FindBlockedDomain(string domain, DateTimeOffset now)
    {
        if (_blockedDomains.IsEmpty)
        {
            return null;
        }

        ConcurrentDictionary<string, EmailGuardListEntry>.AlternateLookup<ReadOnlySpan<char>> lookup = _blockedDomains.GetAlternateLookup<ReadOnlySpan<char>>();
        ReadOnlySpan<char> name = domain;
        while (true)
        {
            if (lookup.TryGetValue(name, out EmailGuardListEntry? entry) && entry.IsActive(now))
            {
                return entry;
            }

            int dot = name.IndexOf('.');
            if (dot < 0)
            {
                return null;
            }

            name = name[(dot + 1)..];
        }
    }

    /// <summary>Applies a store's changes: written entries replace or join, removed ones go.</summary>
    /// <remarks>
    /// Writes go first: checks read the index while this runs, and a party whose old spelling goes and whose new one
    /// comes in one batch must read as listed throughout, not unlisted until its new spelling is written. A key the
    /// store reports both written and removed (the contract says it reports it once) stays written.
    /// </remarks>
    public void Apply(EmailGuardStateChanges changes)
    {
        lock (_lock)
        {
            HashSet<EmailGuardListEntryKey>? written = changes.RemovedListEntries.Count > 0 && changes.ListEntries.Count > 0 ? [] : null;
            foreach (EmailGuardListEntry entry in changes.ListEntries)
            {
                Upsert(entry, null);
                written?.Add(entry.Key);
            }

            foreach (EmailGuardListEntryKey removed in changes.RemovedListEntries)
            {
                if (written is null || !written.Contains(removed))
                {
                    Remove(removed);
                }
            }

            if (changes.RemovedListEntries.Count > 0 || changes.ListEntries.Count > 0)
            {
                _entries = null;
            }
        }
    }

    /// <summary>Every stored entry, expired ones still retained included; built once per change.</summary>
    public IReadOnlyList<EmailGuardListEntry> Entries()
    {
        lock (_lock)
        {
            if (_entries is null)
            {
                EmailGuardListEntry[] entries = new EmailGuardListEntry[_stored.Count];
                int i = 0;
                foreach (Stored stored in _stored.Values)
                {
                    entries[i++] = stored.Entry;
                }

                _entries = entries;
            }

            return _entries;
        }
    }

    /// <summary>Every stored value of a list whose match form is <paramref name="match"/>: what to remove to unlist the party.</summary>
    public IReadOnlyList<string> StoredValues(EmailGuardListKind kind, EmailGuardPartyType partyType, string match)
    {
        lock (_lock)
        {
            EmailGuardListEntryKey key = new(kind, partyType, match);
            List<string> values = StoredInMatchForm(key) is not null ? [match] : [];
            if (_otherSpellings.TryGetValue(key, out List<string>? others))
            {
                values.AddRange(others);
            }

            return values;
        }
    }

    /// <summary>
    /// The match form this index holds for a stored value, for a full build that reuses it. One lock per lookup, not one
    /// for the whole build: a catch-up applying changes to this index (and the checks due a refresh behind it) waits for
    /// one lookup, not for a build of the whole list.
    /// </summary>
    private string? KnownMatch(EmailGuardListEntryKey key)
    {
        lock (_lock)
        {
            return _stored.TryGetValue(key, out Stored known) ? known.Match : null;
        }
    }

    private void Upsert(EmailGuardListEntry entry, GuardListIndex? previous)
    {
        EmailGuardListEntryKey key = entry.Key;
        bool existed = _stored.TryGetValue(key, out Stored old);
        string match = existed ? old.Match
            : previous?.KnownMatch(key) is { } known ? known
            : MatchForm(entry);
        bool ownForm = string.Equals(match, entry.Value, StringComparison.Ordinal);
        if (ownForm)
        {
            // One string for both, not a copy per entry: most values are stored in their match form.
            match = entry.Value;
        }

        _stored[key] = new Stored(entry, match);
        if (!existed && !ownForm)
        {
            EmailGuardListEntryKey matchKey = new(entry.Kind, entry.PartyType, match);
            if (!_otherSpellings.TryGetValue(matchKey, out List<string>? others))
            {
                _otherSpellings[matchKey] = others = [];
            }

            others.Add(entry.Value);
        }

        Elect(entry.Kind, entry.PartyType, match);
    }

    private void Remove(EmailGuardListEntryKey key)
    {
        if (!_stored.Remove(key, out Stored old))
        {
            return;
        }

        if (!string.Equals(old.Match, key.Value, StringComparison.Ordinal))
        {
            EmailGuardListEntryKey matchKey = key with { Value = old.Match };
            if (_otherSpellings.TryGetValue(matchKey, out List<string>? others))
            {
                others.Remove(key.Value);
                if (others.Count == 0)
                {
                    _otherSpellings.Remove(matchKey);
                }
            }
        }

        Elect(key.Kind, key.PartyType, old.Match);
    }

    /// <summary>The entry stored under the match form itself (<paramref name="matchKey"/>), if its own match form is that.</summary>
    private EmailGuardListEntry? StoredInMatchForm(EmailGuardListEntryKey matchKey)
        => _stored.TryGetValue(matchKey, out Stored own) && string.Equals(own.Match, matchKey.Value, StringComparison.Ordinal) ? own.Entry : null;

    /// <summary>Puts in force the stored spelling of a party that expires last, or none when no spelling is left.</summary>
    private void Elect(EmailGuardListKind kind, EmailGuardPartyType partyType, string match)
    {
        EmailGuardListEntryKey matchKey = new(kind, partyType, match);
        EmailGuardListEntry? best = StoredInMatchForm(matchKey);
        if (_otherSpellings.TryGetValue(matchKey, out List<string>? others))
        {
            foreach (string value in others)
            {
                EmailGuardListEntry candidate = _stored[matchKey with { Value = value }].Entry;
                if (best is null || (best.ExpiresAt is { } a && (candidate.ExpiresAt is not { } b || b > a)))
                {
                    best = candidate;
                }
            }
        }

        ConcurrentDictionary<(EmailGuardPartyType, string), EmailGuardListEntry> table = kind == EmailGuardListKind.Blocklist ? _blocked : _allowed;
        bool counted = kind == EmailGuardListKind.Blocklist && partyType == EmailGuardPartyType.CategoryRecipient;
        bool had;
        if (best is null)
        {
            had = table.TryRemove((partyType, match), out _);
        }
        else
        {
            had = table.ContainsKey((partyType, match));
            table[(partyType, match)] = best;
        }

        if (kind == EmailGuardListKind.Blocklist && partyType == EmailGuardPartyType.RecipientDomain)
        {
            if (best is null)
            {
                _blockedDomains.TryRemove(match, out _);
            }
            else
            {
                _blockedDomains[match] = best;
            }
        }

        if (counted && had != (best is not null))
        {
            Interlocked.Add(ref _categoryRecipientBlocks, best is null ? -1 : 1);
        }
    }

    private string MatchForm(EmailGuardListEntry entry)
        => _normalization is null || entry.PartyType is not (EmailGuardPartyType.Recipient or EmailGuardPartyType.Sender or EmailGuardPartyType.RecipientDomain or EmailGuardPartyType.CategoryRecipient)
            ? entry.Value
            : GuardPartyValues.MatchForm(entry.PartyType, entry.Value, _normalization);

    private readonly record struct Stored(EmailGuardListEntry Entry, string Match);
}
