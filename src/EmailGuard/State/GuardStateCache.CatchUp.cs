using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>Bringing the snapshot up to date: by the store's changes when it can say them, else by a full load.</summary>
internal sealed partial class GuardStateCache
{
    /// <summary>
    /// How often a snapshot kept up to date by changes is loaded whole again anyway. Entries that expired past
    /// retention leave the store without a change, so this is what drops them from memory.
    /// </summary>
    internal static readonly TimeSpan FullLoadInterval = TimeSpan.FromHours(24);

    /// <summary>The tag of <see cref="LoadsInstrument"/>: <c>full</c> or <c>changes</c>.</summary>
    internal const string LoadTag = "emailguard.state.load";

    /// <summary>How many times a catch-up asks again for changes after another load moved the snapshot on meanwhile.</summary>
    private const int CatchUpAttempts = 3;

    /// <summary>How long after a failed scheduled full load the next is tried; catch-ups go on meanwhile.</summary>
    internal static readonly TimeSpan FullLoadRetry = TimeSpan.FromHours(1);

    /// <summary>When the next scheduled full load is due, in <see cref="TimeProvider.GetTimestamp"/> units.</summary>
    private long _fullLoadDueAt;
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
        if (current is not null && FullLoadDue())
        {
            try
            {
                return await LoadWholeAsync(current, started, cancellationToken).ConfigureAwait(false);
            }
            catch (EmailGuardStoreUnavailableException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A list too large to load within the load timeout, or a store that failed half-way: the scheduled
                // full load waits an hour, and catching up by changes goes on, so this instance keeps up meanwhile.
                SetFullLoadDue(_timeProvider.GetTimestamp(), FullLoadRetry);
                LogScheduledFullLoadFailed(_logger, FullLoadRetry, LogValue.Of(ex));
            }
        }

        for (int attempt = 0; attempt < CatchUpAttempts && current is not null; attempt++)
        {
            EmailGuardStateChanges? changes = await _store.LoadChangesAsync(current.Version, cancellationToken).ConfigureAwait(false);
            if (changes is null || changes.SinceVersion != current.Version || changes.Version < current.Version)
            {
                // The store cannot say what changed (or answered for another version than asked): load it whole.
                break;
            }

            if (TryApply(current, changes, started) is { } applied)
            {
                _loadsCounter?.Add(1, new KeyValuePair<string, object?>(LoadTag, "changes"));
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

        return await LoadWholeAsync(current, started, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<GuardStateSnapshot> LoadWholeAsync(GuardStateSnapshot? current, long started, CancellationToken cancellationToken)
    {
        EmailGuardStateData data = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        GuardStateSnapshot loaded = new(data, _normalization, current);
        Interlocked.Increment(ref _fullLoads);
        _loadsCounter?.Add(1, new KeyValuePair<string, object?>(LoadTag, "full"));
        SetFullLoadDue(started, FullLoadInterval);
        GuardStateSnapshot result;
        if (Volatile.Read(ref _snapshot) is { } inForce && loaded.Version < inForce.Version
            && await _store.GetVersionAsync(cancellationToken).ConfigureAwait(false) < inForce.Version)
        {
            // Versions only grow, so a load older than the snapshot in force is normally a slow one that must not undo
            // it. But the store is still behind: it lost writes this instance saw (a failover to a replica that missed
            // them, a restore), and its state is the one every instance must use, even before its writes pass ours.
            result = Replace(inForce, loaded, started);
        }
        else
        {
            result = Publish(loaded, started);
        }

        RaiseLoadedWhole();
        return result;
    }

    /// <summary>Puts <paramref name="loaded"/> in force in place of <paramref name="inForce"/>, whose version the store went back from.</summary>
    private GuardStateSnapshot Replace(GuardStateSnapshot inForce, GuardStateSnapshot loaded, long at)
    {
        lock (_lock)
        {
            if (!ReferenceEquals(_snapshot, inForce))
            {
                // Another load moved on meanwhile; it saw the store as this one did, or newer.
                return Publish(loaded, at);
            }

            Volatile.Write(ref _snapshot, loaded);
            ConfirmedLocked(at);
        }

        LogStoreWentBack(_logger, inForce.Version, loaded.Version);
        Published?.Invoke(loaded);
        return loaded;
    }

    private void SetFullLoadDue(long from, TimeSpan after)
    {
        long due = from + (long)(after.TotalSeconds * _timeProvider.TimestampFrequency);
        lock (_lock)
        {
            if (!_loadedWhole || due > _fullLoadDueAt)
            {
                _fullLoadDueAt = due;
                _loadedWhole = true;
            }
        }
    }

    private bool FullLoadDue()
    {
        lock (_lock)
        {
            return !_loadedWhole || _timeProvider.GetTimestamp() >= _fullLoadDueAt;
        }
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
            ConfirmedLocked(at);
        }

        if (changes.Version > basis.Version)
        {
            Published?.Invoke(next);
        }

        RaiseTenantLimitsChanged(changes);
        return next;
    }

    [LoggerMessage(EventId = 2954, EventName = "StateScheduledFullLoadFailed", Level = LogLevel.Warning,
        Message = "The daily full load of blocklists and flags failed; this instance keeps up by changes and tries again in {RetryIn}. A list too large to load within the load timeout (ten times EmailGuard:Resilience:Timeout, at least 5 s) fails this way every time.")]
    private static partial void LogScheduledFullLoadFailed(ILogger logger, TimeSpan retryIn, Exception exception);

    [LoggerMessage(EventId = 2951, EventName = "StateStoreWentBack", Level = LogLevel.Warning,
        Message = "The state store's version went back from {HeldVersion} to {StoreVersion}: it lost writes this instance had seen (a failover to a replica that missed them, a restore, a restart without persistence). This instance now uses the lists and flags the store holds.")]
    private static partial void LogStoreWentBack(ILogger logger, long heldVersion, long storeVersion);
}
