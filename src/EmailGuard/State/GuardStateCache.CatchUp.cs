namespace EmailGuard;

/// <summary>Bringing the snapshot up to date: by the store's changes when it can say them, else by a full load.</summary>
internal sealed partial class GuardStateCache
{
    /// <summary>
    /// How often a snapshot kept up to date by changes is loaded whole again anyway. Entries that expired past
    /// retention leave the store without a change, so this is what drops them from memory.
    /// </summary>
    internal static readonly TimeSpan FullLoadInterval = TimeSpan.FromHours(24);

    /// <summary>How many times a catch-up asks again for changes after another load moved the snapshot on meanwhile.</summary>
    private const int CatchUpAttempts = 3;

    private long _fullLoadAtTimestamp;
    private bool _loadedWhole;
    private int _fullLoads;

    /// <summary>How many full loads this cache made; for tests.</summary>
    internal int FullLoads => Volatile.Read(ref _fullLoads);

    /// <summary>
    /// Brings the snapshot from <paramref name="current"/> to the store's state: by the list changes since its version,
    /// applied in place, when the store reports them; by a full load before the first snapshot, when the store cannot
    /// say what changed, and once per <see cref="FullLoadInterval"/>.
    /// </summary>
    /// <param name="current">The snapshot in force when the caller read the store's version.</param>
    /// <param name="started">When the caller started, for the snapshot's age.</param>
    /// <param name="cancellationToken">Cancels the loads.</param>
    /// <exception cref="EmailGuardStoreUnavailableException">The store did not answer in time or failed.</exception>
    private async ValueTask<GuardStateSnapshot> CatchUpAsync(GuardStateSnapshot? current, long started, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < CatchUpAttempts && current is not null && !FullLoadDue(); attempt++)
        {
            EmailGuardStateChanges? changes = await _store.LoadChangesAsync(current.Version, cancellationToken).ConfigureAwait(false);
            if (changes is null || changes.SinceVersion != current.Version || changes.Version < current.Version)
            {
                // The store cannot say what changed (or answered for another version than asked): load it whole.
                break;
            }

            if (TryApply(current, changes, started) is { } applied)
            {
                return applied;
            }

            // Another load put a snapshot in force meanwhile: ask again from it, unless it is already as new.
            current = Volatile.Read(ref _snapshot);
            if (current is not null && current.Version >= changes.Version)
            {
                Confirm(started);
                return current;
            }
        }

        EmailGuardStateData data = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        GuardStateSnapshot loaded = new(data, _normalization, current);
        Interlocked.Increment(ref _fullLoads);
        lock (_lock)
        {
            if (!_loadedWhole || started > _fullLoadAtTimestamp)
            {
                _fullLoadAtTimestamp = started;
                _loadedWhole = true;
            }
        }

        return Publish(loaded, started);
    }

    private bool FullLoadDue()
    {
        long at;
        lock (_lock)
        {
            if (!_loadedWhole)
            {
                return true;
            }

            at = _fullLoadAtTimestamp;
        }

        return _timeProvider.GetElapsedTime(at) >= FullLoadInterval;
    }

    /// <summary>
    /// Applies changes to the snapshot they were asked for, if it is still the one in force, and puts the result in
    /// force; <see langword="null"/> when another load replaced it meanwhile. Under the cache's lock, so two catch-ups
    /// never apply changes to one index out of order.
    /// </summary>
    private GuardStateSnapshot? TryApply(GuardStateSnapshot basis, EmailGuardStateChanges changes, long at)
    {
        GuardStateSnapshot next;
        lock (_lock)
        {
            if (!ReferenceEquals(_snapshot, basis))
            {
                return null;
            }

            next = basis.WithChanges(changes);
            Volatile.Write(ref _snapshot, next);
            if (at > _confirmedAtTimestamp)
            {
                _confirmedAtTimestamp = at;
            }
        }

        if (changes.Version > basis.Version)
        {
            Published?.Invoke(next);
        }

        return next;
    }
}
