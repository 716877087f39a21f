namespace EmailGuard;

/// <summary>Putting a loaded snapshot in force, and telling the ratio breakers about it.</summary>
internal sealed partial class GuardStateCache
{
    private void Confirm(long at)
    {
        lock (_lock)
        {
            ConfirmedLocked(at);
        }
    }

    /// <summary>Under <see cref="_lock"/>: the store confirmed the snapshot in force at <paramref name="at"/>; the latest confirmation counts.</summary>
    private void ConfirmedLocked(long at)
    {
        if (at > _confirmedAtTimestamp)
        {
            _confirmedAtTimestamp = at;
        }
    }

    /// <summary>
    /// Raised after a newer snapshot is in force, outside the cache's lock, on the thread that loaded it; the ratio
    /// breakers adopt the half-open phases other instances started. A handler must not throw.
    /// </summary>
    internal event Action<GuardStateSnapshot>? Published;

    /// <summary>
    /// Raised after a snapshot that recorded changes of tenant limits is in force, outside the cache's lock: with the
    /// tenants whose limits changed, or <see langword="null"/> for every tenant. A handler must not throw.
    /// </summary>
    internal event Action<IReadOnlyList<string>?>? TenantLimitsChanged;

    /// <summary>
    /// Raised after a whole load put a snapshot in force, outside the cache's lock: the changes it skipped may have
    /// named tenants whose limits changed, which it cannot tell. A handler must not throw.
    /// </summary>
    internal event Action? LoadedWhole;

    private void RaiseTenantLimitsChanged(EmailGuardStateChanges changes)
    {
        if (changes.AllTenantLimitsChanged)
        {
            TenantLimitsChanged?.Invoke(null);
        }
        else if (changes.TenantLimitsChanged is { Count: > 0 } tenants)
        {
            TenantLimitsChanged?.Invoke(tenants);
        }
    }

    private void RaiseLoadedWhole() => LoadedWhole?.Invoke();

    private GuardStateSnapshot Publish(GuardStateSnapshot snapshot, long at)
    {
        GuardStateSnapshot current;
        bool changed;
        lock (_lock)
        {
            // Versions only grow, so a slow refresh that read an older state cannot undo a newer one.
            changed = _snapshot is null || snapshot.Version > _snapshot.Version;
            if (_snapshot is null || snapshot.Version >= _snapshot.Version)
            {
                Volatile.Write(ref _snapshot, snapshot);
            }

            ConfirmedLocked(at);
            current = _snapshot!;
        }

        if (changed)
        {
            Published?.Invoke(current);
        }

        return current;
    }
}
