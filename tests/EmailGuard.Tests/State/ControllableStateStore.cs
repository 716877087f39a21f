namespace EmailGuard.Tests.State;

/// <summary>
/// An in-memory state store that can be made to hang (every call waits until <see cref="Release"/>) or to throw, as a
/// dead or paused Redis would.
/// </summary>
internal sealed class ControllableStateStore(TimeProvider timeProvider) : IEmailGuardStateStore
{
    private readonly InMemoryEmailGuardStateStore _inner = new(timeProvider);
    private TaskCompletionSource _gate = NewGate();

    public StateStoreBehavior Behavior { get; set; }

    private int _calls;
    private int _loads;
    private long _loadedEntries;

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>How many times the whole state was loaded.</summary>
    public int Loads => Volatile.Read(ref _loads);

    /// <summary>How many list entries the loads and change reads returned in all: what keeping up cost.</summary>
    public long LoadedEntries => Interlocked.Read(ref _loadedEntries);

    public InMemoryEmailGuardStateStore Inner => _inner;

    /// <summary>Lets every hanging call through (they then answer normally) and starts a new gate for later hangs.</summary>
    public void Release()
    {
        TaskCompletionSource gate = Interlocked.Exchange(ref _gate, NewGate());
        gate.SetResult();
    }

    public ValueTask<long> GetVersionAsync(CancellationToken cancellationToken) => Run(() => _inner.GetVersionAsync(cancellationToken));

    public ValueTask<EmailGuardStateData> LoadAsync(CancellationToken cancellationToken)
        => Run(async () =>
        {
            EmailGuardStateData data = await _inner.LoadAsync(cancellationToken);
            Interlocked.Increment(ref _loads);
            Interlocked.Add(ref _loadedEntries, data.ListEntries.Count);
            return data;
        });

    public ValueTask<EmailGuardStateChanges?> LoadChangesAsync(long sinceVersion, CancellationToken cancellationToken)
        => Run(async () =>
        {
            EmailGuardStateChanges? changes = await _inner.LoadChangesAsync(sinceVersion, cancellationToken);
            Interlocked.Add(ref _loadedEntries, (changes?.ListEntries.Count ?? 0) + (changes?.RemovedListEntries.Count ?? 0));
            return changes;
        });

    public ValueTask<bool> RecordTenantLimitsChangeAsync(string? tenantId, CancellationToken cancellationToken)
        => Run(() => _inner.RecordTenantLimitsChangeAsync(tenantId, cancellationToken));

    public ValueTask UpsertListEntryAsync(EmailGuardListEntry entry, CancellationToken cancellationToken)
        => Run(() => _inner.UpsertListEntryAsync(entry, cancellationToken), write: true);

    public ValueTask<bool> RemoveListEntryAsync(EmailGuardListKind kind, EmailGuardPartyType partyType, string value, CancellationToken cancellationToken)
        => Run(() => _inner.RemoveListEntryAsync(kind, partyType, value, cancellationToken), write: true);

    public ValueTask UpsertFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken) => Run(() => _inner.UpsertFlagAsync(flag, cancellationToken), write: true);

    public ValueTask<EmailGuardFlagReplacement?> ReplaceFlagAsync(EmailGuardFlag flag, CancellationToken cancellationToken)
        => Run(() => _inner.ReplaceFlagAsync(flag, cancellationToken), write: true);

    public ValueTask<bool> RemoveFlagAsync(EmailGuardPartyType partyType, string partyId, string reason, CancellationToken cancellationToken)
        => Run(() => _inner.RemoveFlagAsync(partyType, partyId, reason, cancellationToken), write: true);

    public ValueTask AppendFlagEventAsync(EmailGuardFlagEvent flagEvent, CancellationToken cancellationToken)
        => Run(() => _inner.AppendFlagEventAsync(flagEvent, cancellationToken), write: true);

    public ValueTask<IReadOnlyList<EmailGuardFlagEvent>> GetFlagEventsAsync(int max, CancellationToken cancellationToken)
        => Run(() => _inner.GetFlagEventsAsync(max, cancellationToken));

    private static TaskCompletionSource NewGate() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async ValueTask Run(Func<ValueTask> call, bool write = false)
        => await Run(
            async () =>
            {
                await call();
                return true;
            },
            write);

    private async ValueTask<T> Run<T>(Func<ValueTask<T>> call, bool write = false)
    {
        Interlocked.Increment(ref _calls);
        switch (Behavior)
        {
            case StateStoreBehavior.Hang:
            case StateStoreBehavior.HangReads when !write:
                await Volatile.Read(ref _gate).Task;
                break;
            case StateStoreBehavior.Throw:
                await Task.Yield();
                throw new InvalidOperationException("The state store is down (test).");
        }

        return await call();
    }
}
