namespace EmailGuard.ExternalStore.Tests;

/// <summary>
/// A state store (lists, flags, flag events) written only against EmailGuard's public extension surface, as a third
/// party would write one for its own database.
/// </summary>
public sealed class ExternalStateStore(TimeProvider timeProvider) : IEmailGuardStateStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(EmailGuardListKind, EmailGuardPartyType, string), EmailGuardListEntry> _entries = [];
    private readonly Dictionary<(EmailGuardPartyType, string, string), EmailGuardFlag> _flags = [];
    private readonly List<EmailGuardFlagEvent> _events = [];
    private long _version;

    /// <summary>Gets how many times the guard loaded the state; the end-to-end test reads it.</summary>
    public int Loads { get; private set; }

    /// <inheritdoc />
    public ValueTask<long> GetVersionAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return new(_version);
        }
    }

    /// <inheritdoc />
    public ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            Loads++;
            return new(new EmailGuardStateData(
                _version,
                [.. _entries.Values.Where(e => e.ExpiresAt is not { } at || at + IEmailGuardStateStore.ExpiredEntryRetention > now)],
                [.. _flags.Values.Where(f => f.ExpiresAt > now)]));
        }
    }

    /// <inheritdoc />
    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _entries[(entry.Kind, entry.PartyType, entry.Value)] = entry;
            _version++;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _version++;
            return new(_entries.Remove((kind, partyType, value)));
        }
    }

    /// <inheritdoc />
    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _flags[(flag.PartyType, flag.PartyId, flag.Reason.ToLowerInvariant())] = flag;
            _version++;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _version++;
            return new(_flags.Remove((partyType, partyId, reason.ToLowerInvariant())));
        }
    }

    /// <inheritdoc />
    public ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _events.Add(flagEvent);
            if (_events.Count > IEmailGuardStateStore.MaxFlagEvents)
            {
                _events.RemoveAt(0);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return new([.. Enumerable.Reverse(_events).Take(max)]);
        }
    }
}
