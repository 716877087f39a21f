using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Keeps this instance's view of lists and flags (a snapshot), so that a check never waits on the state store.
/// </summary>
/// <remarks>
/// <para>
/// Once a snapshot exists, a check reads it and returns at once. At most once per
/// <see cref="SendGuardOptions.StateRefreshInterval"/> a check also starts a refresh in the background (one at a time),
/// and so does the host every interval (<see cref="StartPeriodicRefresh"/>), checks or not:
/// it reads the store's version and reloads only when it changed, so on Redis it is one round trip. While the store is
/// down or slow the last good snapshot stays in force; <see cref="Age"/> says how old it is.
/// </para>
/// <para>
/// Before any snapshot exists (the app just started), a check waits for the first load at most
/// <see cref="StoreResilienceOptions.Timeout"/> and then gets <see langword="null"/>: the caller applies its failure mode.
/// Every store call goes through <see cref="ResilientStateStore"/>, so a dead store fails fast once its circuit is open.
/// </para>
/// </remarks>
internal sealed partial class GuardStateCache
{
    public const string StateAgeInstrument = "emailguard.state.age";

    private readonly ResilientStateStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly bool _systemClock;
    private readonly long _interval;
    private readonly ILogger _logger;
    private readonly EmailAddressNormalizationOptions _normalization;
    private readonly Lock _lock = new();
    private GuardStateSnapshot? _snapshot;
    private long _refreshDueAt = long.MinValue;
    private long _confirmedAtTimestamp;
    private Task<GuardStateSnapshot?>? _refreshing;
    private bool _failing;
    private readonly Counter<long>? _loadsCounter;

    public GuardStateCache(
        IEmailGuardStateStore store,
        IOptions<SendGuardOptions> options,
        TimeProvider timeProvider,
        ILogger<GuardStateCache>? logger = null,
        StoreResilienceOptions? resilience = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _timeProvider = timeProvider;
        RefreshInterval = options.Value.StateRefreshInterval;
        _systemClock = ReferenceEquals(timeProvider, TimeProvider.System);
        _interval = Math.Max(0, _systemClock ? (long)RefreshInterval.TotalMilliseconds : (long)(RefreshInterval.TotalSeconds * timeProvider.TimestampFrequency));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _normalization = options.Value.AddressNormalization;
        _store = store as ResilientStateStore ?? new ResilientStateStore(store, resilience ?? new StoreResilienceOptions(), timeProvider, _logger);

        // The factory hands out the one EmailGuard meter (it caches meters by name) and disposes it with the host.
        Meter? meter = meterFactory?.Create(new MeterOptions(EmailGuardDiagnostics.MeterName));
        meter?.CreateObservableGauge(
            StateAgeInstrument,
            ObserveAge,
            unit: "s",
            description: "How long ago the state store last confirmed this instance's blocklists and flags; absent before the first load.");
        meter?.CreateObservableGauge(
            ListEntriesInstrument,
            () => Volatile.Read(ref _snapshot) is { } snapshot ? [new Measurement<long>(snapshot.ListEntryCount)] : Array.Empty<Measurement<long>>(),
            unit: "{entry}",
            description: "The blocklist and allowlist entries this instance holds in memory, expired ones still retained included; absent before the first load.");
        _loadsCounter = meter?.CreateCounter<long>(
            LoadsInstrument,
            unit: "{load}",
            description: "How this instance brought its blocklists and flags up to date: a full load, or the changes since its version.");
    }

    /// <summary>The gauge of list entries held in memory.</summary>
    public const string ListEntriesInstrument = "emailguard.state.list_entries";

    /// <summary>The counter of full loads and catch-ups by changes.</summary>
    public const string LoadsInstrument = "emailguard.state.loads";

    /// <summary>The state store, every call bounded by the timeout; failures throw <see cref="EmailGuardStoreUnavailableException"/>.</summary>
    public ResilientStateStore Store => _store;

    public TimeSpan RefreshInterval { get; }

    /// <summary>How long ago the store last confirmed the snapshot (loaded it, or said it is current); <see langword="null"/> before the first load.</summary>
    public TimeSpan? Age
    {
        get
        {
            if (Volatile.Read(ref _snapshot) is null)
            {
                return null;
            }

            return _timeProvider.GetElapsedTime(Volatile.Read(ref _confirmedAtTimestamp));
        }
    }

    /// <summary>The snapshot in force, as it is: never starts a load or a refresh; <see langword="null"/> before the first load.</summary>
    public GuardStateSnapshot? Current => Volatile.Read(ref _snapshot);

    /// <summary>The version of the snapshot in force, or <see langword="null"/> before the first load.</summary>
    public long? Version => Volatile.Read(ref _snapshot)?.Version;

    /// <summary>
    /// The snapshot for a check. Synchronous once a snapshot exists; before that, waits for the first load at most the
    /// timeout and answers <see langword="null"/> when there is still none. Never throws for a store failure.
    /// </summary>
    public ValueTask<GuardStateSnapshot?> GetAsync(CancellationToken cancellationToken)
        => GetAsync(_systemClock ? Environment.TickCount64 : 0, null, cancellationToken);

    /// <summary>
    /// As <see cref="GetAsync(CancellationToken)"/>, with <see cref="Environment.TickCount64"/> read moments ago by the
    /// caller: a check reads that clock once for its key caches, and a second reading here cost as much as the rest of
    /// this method. Ignored unless this cache runs on the system clock.
    /// </summary>
    /// <param name="systemTick">A reading of <see cref="Environment.TickCount64"/>.</param>
    /// <param name="budget">The check's store time budget, which the wait for the first load starts; null for the whole timeout.</param>
    /// <param name="cancellationToken">Cancels the wait for the first load.</param>
    public ValueTask<GuardStateSnapshot?> GetAsync(long systemTick, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        GuardStateSnapshot? snapshot = Volatile.Read(ref _snapshot);
        if (snapshot is not null)
        {
            if ((_systemClock ? systemTick : Tick()) >= Volatile.Read(ref _refreshDueAt))
            {
                // A store that answers synchronously (in memory) is refreshed inline; any other in the background.
                Task<GuardStateSnapshot?> refresh = StartRefresh();
                if (refresh.IsCompletedSuccessfully && refresh.Result is { } fresh)
                {
                    return new(fresh);
                }
            }

            return new(snapshot);
        }

        Task<GuardStateSnapshot?> first = StartRefresh();
        return first.IsCompletedSuccessfully ? new(first.Result) : new(WaitForFirstAsync(first, StoreTimeBudget.Wait(budget, _store.Timeout), cancellationToken));
    }

    /// <summary>Starts a refresh unless one is running; returns the running one. Used at startup to load before the first check.</summary>
    public Task<GuardStateSnapshot?> StartRefresh()
    {
        lock (_lock)
        {
            if (_refreshing is { } running)
            {
                return running;
            }

            // Marked before the refresh runs, so that checks arriving meanwhile do not each start one.
            long now = Tick();
            long due = now + _interval;
            Volatile.Write(ref _refreshDueAt, due < now ? long.MaxValue : due);
            Task<GuardStateSnapshot?> refresh = RefreshAsync();
            if (!refresh.IsCompleted)
            {
                _refreshing = refresh;
            }

            return refresh;
        }
    }

    /// <summary>The refresh running now, if any; starts none. For tests that wait for a background refresh.</summary>
    internal Task<GuardStateSnapshot?>? Refreshing
    {
        get
        {
            lock (_lock)
            {
                return _refreshing;
            }
        }
    }

    /// <summary>
    /// Starts a refresh every <see cref="RefreshInterval"/> whether or not checks arrive, so that an instance with no
    /// check for a while still applies other instances' changes within the interval instead of answering its next
    /// check from a snapshot older than that. <see langword="null"/> when the interval is zero (every check refreshes).
    /// </summary>
    /// <returns>The timer; dispose it to stop.</returns>
    public ITimer? StartPeriodicRefresh()
        => RefreshInterval > TimeSpan.Zero
            ? _timeProvider.CreateTimer(static cache => _ = ((GuardStateCache)cache!).StartRefresh(), this, RefreshInterval, RefreshInterval)
            : null;

    /// <summary>
    /// The state as the store holds it now, for the list and flag APIs and after this instance changed lists or flags
    /// (so that its own checks see the change at once). Reloads only when the store's version moved.
    /// </summary>
    /// <exception cref="EmailGuardStoreUnavailableException">The store did not answer in time or failed.</exception>
    public async ValueTask<EmailGuardStateData> LoadCurrentAsync(CancellationToken cancellationToken)
        => (await LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false)).Data;

    /// <summary>As <see cref="LoadCurrentAsync"/>, as a snapshot whose lookups match any spelling of a party.</summary>
    /// <exception cref="EmailGuardStoreUnavailableException">The store did not answer in time or failed.</exception>
    public async ValueTask<GuardStateSnapshot> LoadCurrentSnapshotAsync(CancellationToken cancellationToken)
    {
        long version = await _store.GetVersionAsync(cancellationToken).ConfigureAwait(false);
        GuardStateSnapshot? current = Volatile.Read(ref _snapshot);
        if (current is not null && current.Version == version)
        {
            Confirm(_timeProvider.GetTimestamp());
            return current;
        }

        return await CatchUpAsync(current, _timeProvider.GetTimestamp(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reloads after this instance wrote lists or flags, so that its own checks see the change at once. The write has
    /// succeeded by then, so a reload that fails does not fail it: the next refresh picks the change up.
    /// </summary>
    public async ValueTask ReloadAfterWriteAsync(CancellationToken cancellationToken)
    {
        try
        {
            _ = await LoadCurrentSnapshotAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EmailGuardStoreUnavailableException ex)
        {
            Volatile.Write(ref _refreshDueAt, long.MinValue);
            LogReloadAfterWriteFailed(_logger, LogValue.Of(ex));
        }
    }

    /// <summary>
    /// The clock of the refresh schedule. This runs on every check: on the system clock it is
    /// <see cref="Environment.TickCount64"/> in milliseconds, a coarse clock (1 to 4 ms) that costs a fraction of a
    /// timestamp, which is plenty for an interval of seconds; any other <see cref="TimeProvider"/> (a fake one in tests)
    /// is read in its own timestamps.
    /// </summary>
    private long Tick() => _systemClock ? Environment.TickCount64 : _timeProvider.GetTimestamp();

    private IEnumerable<Measurement<double>> ObserveAge()
        => Age is { } age ? [new Measurement<double>(age.TotalSeconds)] : [];

    private async Task<GuardStateSnapshot?> WaitForFirstAsync(Task<GuardStateSnapshot?> first, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return await first.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The load goes on in the background and serves later checks; this one follows its failure mode.
            return Volatile.Read(ref _snapshot);
        }
    }

    private async Task<GuardStateSnapshot?> RefreshAsync()
    {
        try
        {
            long started = _timeProvider.GetTimestamp();
            GuardStateSnapshot? current = Volatile.Read(ref _snapshot);
            long version = await _store.GetVersionAsync(CancellationToken.None).ConfigureAwait(false);
            GuardStateSnapshot result;
            if (current is not null && version == current.Version)
            {
                Confirm(started);
                result = current;
            }
            else
            {
                result = await CatchUpAsync(current, started, CancellationToken.None).ConfigureAwait(false);
            }

            if (_failing)
            {
                _failing = false;
                LogStateStoreRecovered(_logger);
            }

            return result;
        }
        catch (Exception ex)
        {
            // One warning per outage, not one per refresh: a dead store is retried every interval (or, before the first
            // load, on every check once its circuit lets a call through).
            if (!_failing)
            {
                _failing = true;
                GuardStateSnapshot? snapshot = Volatile.Read(ref _snapshot);
                if (snapshot is null && ex.InnerException is TimeoutException)
                {
                    // Usually a cold start (the client still connecting, a busy machine), retried at the next check or
                    // interval; a store that stays silent opens the state circuit, which logs an error (1001).
                    LogStateStoreSlowBeforeFirstLoad(_logger, _store.Timeout);
                }
                else if (snapshot is null)
                {
                    LogStateStoreFailureNoSnapshot(_logger, LogValue.Of(ex));
                }
                else
                {
                    LogStateStoreFailure(_logger, LogValue.Of(ex));
                }
            }

            return Volatile.Read(ref _snapshot);
        }
        finally
        {
            lock (_lock)
            {
                _refreshing = null;
            }
        }
    }

    [LoggerMessage(EventId = 410, EventName = "StateStoreFailure", Level = LogLevel.Warning, Message = "The send guard's state store failed; the last known blocklists and flags stay in force.")]
    private static partial void LogStateStoreFailure(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1003, EventName = "StateStoreFailureBeforeFirstLoad", Level = LogLevel.Error,
        Message = "The send guard's state store failed before blocklists and flags were ever loaded; until they are, checks follow the failure mode.")]
    private static partial void LogStateStoreFailureNoSnapshot(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1007, EventName = "StateStoreSlowBeforeFirstLoad", Level = LogLevel.Warning,
        Message = "The send guard's state store did not answer within {Timeout} before blocklists and flags were ever loaded; until they are, checks follow the failure mode. The load is tried again at the next check or refresh.")]
    private static partial void LogStateStoreSlowBeforeFirstLoad(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 1006, EventName = "StateReloadAfterWriteFailed", Level = LogLevel.Warning,
        Message = "Lists or flags were written, but reloading them failed; this instance applies the change at its next refresh.")]
    private static partial void LogReloadAfterWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1004, EventName = "StateStoreRecovered", Level = LogLevel.Information, Message = "The send guard's state store answers again; blocklists and flags are current.")]
    private static partial void LogStateStoreRecovered(ILogger logger);
}
