namespace EmailGuard;

/// <summary>The state store of a single instance: lists, flags and events in this process.</summary>
internal sealed class InMemoryEmailGuardStateStore(TimeProvider timeProvider) : IEmailGuardStateStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(EmailGuardListKind, EmailGuardPartyType, string), EmailGuardListEntry> _entries = [];
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

    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _entries[(entry.Kind, entry.PartyType, entry.Value)] = entry;
            _version++;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            bool removed = _entries.Remove((kind, partyType, value));
            _version++;
            return new(removed);
        }
    }

    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _flags[(flag.PartyType, flag.PartyId, flag.Reason.ToLowerInvariant())] = flag;
            _version++;
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            bool removed = _flags.Remove((partyType, partyId, reason.ToLowerInvariant()));
            _version++;
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

    private void Purge(DateTimeOffset now)
    {
        DateTimeOffset retainedSince = now - IEmailGuardStateStore.ExpiredEntryRetention;
        List<(EmailGuardListKind, EmailGuardPartyType, string)>? gone = null;
        foreach (KeyValuePair<(EmailGuardListKind, EmailGuardPartyType, string), EmailGuardListEntry> pair in _entries)
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
}
