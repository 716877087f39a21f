namespace EmailGuard;

/// <summary>The state store of a single instance: lists, flags and events in this process.</summary>
internal sealed class InMemoryEmailGuardStateStore(TimeProvider timeProvider) : IEmailGuardStateStore
{
    /// <summary>The most list changes kept for <see cref="LoadChangesAsync"/>; a caller further behind loads whole.</summary>
    internal const int MaxChanges = 10_000;

    private readonly Lock _lock = new();

    /// <summary>
    /// The list entries written or removed and the tenant limits changed, by version, oldest first; trimmed to about
    /// <see cref="MaxChanges"/>.
    /// </summary>
    private readonly List<Change> _changes = [];

    /// <summary>The version up to which changes were trimmed away.</summary>
    private long _changesFloor;

    /// <summary>The version of the last flag written or removed.</summary>
    private long _flagsChangedAt;
    private readonly Dictionary<EmailGuardListEntryKey, EmailGuardListEntry> _entries = [];
    private readonly Dictionary<(EmailGuardPartyType, string, string), EmailGuardFlag> _flags = [];
    private readonly LinkedList<EmailGuardFlagEvent> _events = new();
    private long _version;

    public ValueTask<long> GetVersionAsync(CancellationToken cancellationToken) => new(Volatile.Read(ref _version));

    public ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            Purge(now);
            return new(new EmailGuardStateData(_version, [.. _entries.Values], [.. _flags.Values]));
        }
    }

    public ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (sinceVersion > _version || sinceVersion < _changesFloor)
            {
                return new((EmailGuardStateChanges?)null);
            }

            // The first change after the caller's version; versions only grow along the list.
            int lo = 0;
            int hi = _changes.Count;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (_changes[mid].Version <= sinceVersion)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            HashSet<EmailGuardListEntryKey> seen = [];
            List<EmailGuardListEntry> written = [];
            List<EmailGuardListEntryKey> removed = [];
            HashSet<string>? tenants = null;
            bool allTenants = false;
            for (int i = lo; i < _changes.Count; i++)
            {
                if (_changes[i].Entry is not { } key)
                {
                    allTenants |= _changes[i].Tenant is null;
                    if (_changes[i].Tenant is { } tenant)
                    {
                        (tenants ??= new(StringComparer.Ordinal)).Add(tenant);
                    }

                    continue;
                }

                if (!seen.Add(key))
                {
                    continue;
                }

                if (_entries.TryGetValue(key, out EmailGuardListEntry? entry))
                {
                    written.Add(entry);
                }
                else
                {
                    removed.Add(key);
                }
            }

            // The flags only when one changed since: most catch-ups follow a suppression.
            EmailGuardFlag[]? flags = _flagsChangedAt > sinceVersion ? [.. _flags.Values.Where(f => f.IsActive(now))] : null;
            return new(new EmailGuardStateChanges(sinceVersion, _version, written, removed, flags)
            {
                TenantLimitsChanged = tenants is null ? [] : [.. tenants],
                AllTenantLimitsChanged = allTenants,
            });
        }
    }

    public ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _version++;
            Record(new Change(_version, null, tenantId));
        }

        return new(true);
    }

    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _entries[entry.Key] = entry;
            _version++;
            Record(new Change(_version, entry.Key, null));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            EmailGuardListEntryKey key = new(kind, partyType, value);
            bool removed = _entries.Remove(key);
            _version++;
            Record(new Change(_version, key, null));
            return new(removed);
        }
    }

    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        _ = Replace(flag);
        return ValueTask.CompletedTask;
    }

    public ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
        => new(Replace(flag) is { } replaced ? new EmailGuardFlagReplacement(replaced) : EmailGuardFlagReplacement.None);

    /// <summary>Stores the flag; returns the one it replaced, expired or not (a flag is purged only at a load).</summary>
    private EmailGuardFlag? Replace(EmailGuardFlag flag)
    {
        lock (_lock)
        {
            (EmailGuardPartyType, string, string) key = (flag.PartyType, flag.PartyId, flag.Reason.ToLowerInvariant());
            _ = _flags.Remove(key, out EmailGuardFlag? replaced);
            _flags[key] = flag;
            _version++;
            _flagsChangedAt = _version;
            return replaced;
        }
    }

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            bool removed = _flags.Remove((partyType, partyId, reason.ToLowerInvariant()));
            _version++;
            _flagsChangedAt = _version;
            return new(removed);
        }
    }

    public ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _events.AddFirst(flagEvent);
            while (_events.Count > IEmailGuardStateStore.MaxFlagEvents)
            {
                _events.RemoveLast();
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return new([.. _events.Take(max)]);
        }
    }

    private void Record(Change change)
    {
        _changes.Add(change);
        if (_changes.Count >= 2 * MaxChanges)
        {
            // Trimmed in bulk, so that each write costs O(1) on average.
            int drop = _changes.Count - MaxChanges;
            _changesFloor = _changes[drop - 1].Version;
            _changes.RemoveRange(0, drop);
        }
    }

    private void Purge(DateTimeOffset now)
    {
        DateTimeOffset retainedSince = now - IEmailGuardStateStore.ExpiredEntryRetention;
        List<EmailGuardListEntryKey>? gone = null;
        foreach (KeyValuePair<EmailGuardListEntryKey, EmailGuardListEntry> pair in _entries)
        {
            if (pair.Value.ExpiresAt is { } expiresAt && expiresAt <= retainedSince)
            {
                (gone ??= []).Add(pair.Key);
            }
        }

        List<(EmailGuardPartyType, string, string)>? goneFlags = null;
        foreach (KeyValuePair<(EmailGuardPartyType, string, string), EmailGuardFlag> pair in _flags)
        {
            if (!pair.Value.IsActive(now))
            {
                (goneFlags ??= []).Add(pair.Key);
            }
        }

        gone?.ForEach(key => _entries.Remove(key));
        goneFlags?.ForEach(key => _flags.Remove(key));
    }

    /// <summary>A change record: a list entry written or removed, or (with no entry) the limits of a tenant changed, of every tenant when it names none.</summary>
    private readonly record struct Change(long Version, EmailGuardListEntryKey? Entry, string? Tenant);
}
