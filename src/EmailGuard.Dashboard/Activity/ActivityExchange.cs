using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Shares each instance's recent activity through the store, so that any instance's dashboard shows the top parties,
/// denials and events of all of them. Every <see cref="PublishInterval"/> an instance writes an
/// <see cref="ActivitySnapshot"/> to the key-value store (<see cref="IEmailGuardKeyValueStore"/>: Redis when the Redis
/// store is added), under its own random id, with a TTL of <see cref="TimeToLive"/>; it finds the others through
/// <see cref="MaxInstances"/> slot keys, each claimed atomically by one instance and renewed with its snapshot.
/// </summary>
/// <remarks>
/// What a reader sees of another instance is at most one interval old, and an instance that stops is forgotten within
/// the TTL, its last hour with it; one that shuts down gracefully gives up its slot at once (<see cref="LeaveAsync"/>), so
/// the others stop showing it. A merged top list sums each instance's top <see cref="ActivitySnapshot.TopPerList"/>:
/// a party that is small everywhere but large in total can be missing, as with any distributed top-k; its error bound
/// is the sum of the instances'. Every store call is bounded by <see cref="StoreResilienceOptions.Timeout"/>; a store
/// that does not answer costs the page the other instances, never the page itself.
/// </remarks>
internal sealed partial class ActivityExchange
{
    /// <summary>How many instances can share their activity; more are logged once and show only on their own dashboard.</summary>
    public const int MaxInstances = 32;

    public static readonly TimeSpan PublishInterval = TimeSpan.FromSeconds(15);

    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(45);

    private const string KeyPrefix = "emailguard:dashboard:";

    private readonly IEmailGuardKeyValueStore _store;
    private readonly EmailGuardMonitor _monitor;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly Lock _publishGate = new();
    private Task _publishing = Task.CompletedTask;
    private int _slot = -1;

    /// <summary>The last renewal of the slot sent to the store, as the store answers it, not as a publish waits for it.</summary>
    private Task _renewal = Task.CompletedTask;
    private int _loggedFull;
    private bool _left;

    public ActivityExchange(
        IEmailGuardKeyValueStore store, EmailGuardMonitor monitor, TimeProvider timeProvider, IOptions<StoreResilienceOptions> resilience, ILogger<ActivityExchange> logger)
    {
        _store = store;
        _monitor = monitor;
        _timeProvider = timeProvider;
        _timeout = resilience.Value.Timeout;
        _logger = logger;
    }

    /// <summary>This instance's id: 32 hexadecimal digits, new at every start.</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>
    /// Writes this instance's snapshot, claiming or renewing its slot first. Publishes run one after the other: two at
    /// once let the one that captured first write last, putting back a snapshot older than the one just written (the
    /// publisher's tick and a publish on demand, or a store slow to answer).
    /// </summary>
    public Task PublishAsync(CancellationToken cancellationToken)
    {
        lock (_publishGate)
        {
            Task publishing = PublishAfterAsync(_publishing, cancellationToken);
            _publishing = publishing;
            return publishing;
        }
    }

    /// <summary>Publishes once <paramref name="previous"/> has ended, however it ended: its failure is its own caller's.</summary>
    private async Task PublishAfterAsync(Task previous, CancellationToken cancellationToken)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await PublishNowAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishNowAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _left))
        {
            // Shutting down: a publish now would claim a slot again after LeaveAsync gave it up.
            return;
        }

        if (_slot < 0 || await BoundedAsync(_store.GetAsync(SlotKey(_slot), cancellationToken), cancellationToken).ConfigureAwait(false) != InstanceId)
        {
            _slot = await ClaimAsync(cancellationToken).ConfigureAwait(false);
            if (_slot < 0)
            {
                if (Interlocked.Exchange(ref _loggedFull, 1) == 0)
                {
                    Log.SlotsFull(_logger, MaxInstances);
                }

                return;
            }
        }

        // The slot these writes renew: LeaveAsync may give it up (and forget it) while they are on their way.
        int slot = _slot;
        Task renewal = _store.SetAsync(SlotKey(slot), InstanceId, TimeToLive, cancellationToken).AsTask();
        Volatile.Write(ref _renewal, renewal);
        List<Task> writes = [renewal.WaitAsync(_timeout, _timeProvider, cancellationToken)];
        foreach ((string part, string value) in Capture().Encode())
        {
            writes.Add(BoundedAsync(_store.SetAsync(PartKey(InstanceId, part), value, TimeToLive, cancellationToken), cancellationToken));
        }

        await Task.WhenAll(writes).ConfigureAwait(false);
        if (Volatile.Read(ref _left))
        {
            // LeaveAsync stopped waiting for this publish (its wait is bounded, and the host's shutdown may cancel it) and
            // gave up the slot while these writes were on their way: they claimed it again, for the others to show this
            // instance until it expired. Given up again, as LeaveAsync would: only while it holds this instance's id.
            if (await BoundedAsync(_store.RemoveAsync(SlotKey(slot), InstanceId, cancellationToken), cancellationToken).ConfigureAwait(false))
            {
                _slot = -1;
            }
        }
    }

    /// <summary>Publishes, logging instead of throwing: a store that fails costs the others one interval of this instance.</summary>
    public async Task TryPublishAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PublishAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.PublishFailed(_logger, ex.GetType().Name);
        }
    }

    /// <summary>
    /// Gives up this instance's slot as the app shuts down, so that the other instances stop showing it at once instead
    /// of until it expires (<see cref="TimeToLive"/>). Publishing stops first, and a publish still writing is waited for,
    /// since it could claim a slot again after the release, and so is its renewal of the slot, which the store may still
    /// be writing when the publisher's stop has cancelled the publish; one that outlasts the wait gives the slot up itself
    /// once its writes land. The slot is removed only while it holds this instance's id
    /// (<see cref="IEmailGuardKeyValueStore.RemoveAsync"/>): one that expired meanwhile and was taken by another instance
    /// stays theirs. Each wait is bounded by <see cref="StoreResilienceOptions.Timeout"/>, so a dead or hung store delays
    /// shutdown by at most twice that; the slot is then left to expire (logged, 3035), as it is when the host's shutdown
    /// cancels <paramref name="cancellationToken"/> first. Never throws: a hosted service's stop should not fail the host's.
    /// </summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        Task publishing;
        lock (_publishGate)
        {
            Volatile.Write(ref _left, true);
            publishing = _publishing;
        }

        // The publish, then the renewal it sent: the publisher's stop cancels a publish in flight first, which stops
        // waiting for its writes at once, and a renewal still on its way would claim the slot again after its release.
        Task landed = publishing.ContinueWith(_ => Volatile.Read(ref _renewal), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).Unwrap();
        await landed.WaitAsync(_timeout, _timeProvider, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        int slot = _slot;
        if (slot < 0)
        {
            return;
        }

        try
        {
            if (await BoundedAsync(_store.RemoveAsync(SlotKey(slot), InstanceId, cancellationToken), cancellationToken).ConfigureAwait(false))
            {
                _slot = -1;
            }
        }
        catch (Exception ex)
        {
            Log.LeaveFailed(_logger, ex.GetType().Name, TimeToLive);
        }
    }

    /// <summary>This instance's live record, with the snapshots the other instances published.</summary>
    public async Task<ActivityView> ReadAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<DashboardEvent> events = _monitor.Events.Snapshot();
        try
        {
            string?[] holders = await Task.WhenAll(Enumerable.Range(0, MaxInstances)
                .Select(slot => BoundedAsync(_store.GetAsync(SlotKey(slot), cancellationToken), cancellationToken))).ConfigureAwait(false);
            string[] others = [.. holders.OfType<string>().Where(id => id != InstanceId && IsInstanceId(id)).Distinct(StringComparer.Ordinal)];
            ActivitySnapshot[] snapshots = await Task.WhenAll(others.Select(id => ReadInstanceAsync(id, cancellationToken))).ConfigureAwait(false);
            return new ActivityView(_monitor.Activity, events, snapshots, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.ReadFailed(_logger, ex.GetType().Name);
            return new ActivityView(_monitor.Activity, events, [], $"The other instances' activity could not be read from the store ({ex.GetType().Name}).");
        }
    }

    /// <summary>What this instance publishes: its record's top lists, totals, minutes, policies and latest events.</summary>
    internal ActivitySnapshot Capture()
    {
        RecentActivity activity = _monitor.Activity;
        ActivitySnapshot snapshot = new() { InstanceId = InstanceId };
        foreach (ActivityDimension dimension in Enum.GetValues<ActivityDimension>())
        {
            snapshot.Top[(dimension, false)] = activity.Top(dimension, denials: false, ActivitySnapshot.TopPerList);
            snapshot.Top[(dimension, true)] = activity.Top(dimension, denials: true, ActivitySnapshot.TopPerList);
        }

        (long checks, long denials, IReadOnlyDictionary<string, long> reasons) = activity.Totals();
        snapshot.Checks = checks;
        snapshot.Denials = denials;
        foreach (KeyValuePair<string, long> reason in reasons)
        {
            snapshot.Reasons[reason.Key] = reason.Value;
        }

        snapshot.Minutes.AddRange(activity.PerMinute().Where(m => m.Checks > 0 || m.Denials > 0));
        snapshot.Policies.AddRange(activity.Policies());

        // Flags and suspensions are in the store already, with every instance's; the rest is only in memory here.
        snapshot.Events.AddRange(_monitor.Events.Snapshot()
            .Where(e => e.Kind is not (DashboardEventKinds.Flagged or DashboardEventKinds.Suspended))
            .Take(ActivitySnapshot.EventCount));
        return snapshot;
    }

    private async Task<ActivitySnapshot> ReadInstanceAsync(string instanceId, CancellationToken cancellationToken)
    {
        List<string> names = [ActivitySnapshot.TotalsPart, ActivitySnapshot.MinutesPart, ActivitySnapshot.PoliciesPart, ActivitySnapshot.EventsPart];
        foreach (ActivityDimension dimension in Enum.GetValues<ActivityDimension>())
        {
            names.Add(ActivitySnapshot.TopPart(dimension, false));
            names.Add(ActivitySnapshot.TopPart(dimension, true));
        }

        string?[] values = await Task.WhenAll(names.Select(name =>
            BoundedAsync(_store.GetAsync(PartKey(instanceId, name), cancellationToken), cancellationToken))).ConfigureAwait(false);
        Dictionary<string, string?> parts = new(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++)
        {
            parts[names[i]] = values[i];
        }

        return ActivitySnapshot.Decode(instanceId, parts);
    }

    /// <summary>The first slot this instance holds or can claim; -1 when all are held by others.</summary>
    private async Task<int> ClaimAsync(CancellationToken cancellationToken)
    {
        for (int slot = 0; slot < MaxInstances; slot++)
        {
            string? holder = await BoundedAsync(_store.GetOrAddAsync(SlotKey(slot), InstanceId, TimeToLive, cancellationToken), cancellationToken).ConfigureAwait(false);
            if (holder is null || holder == InstanceId)
            {
                return slot;
            }
        }

        return -1;
    }

    private Task BoundedAsync(ValueTask call, CancellationToken cancellationToken)
        => call.AsTask().WaitAsync(_timeout, _timeProvider, cancellationToken);

    private Task<T> BoundedAsync<T>(ValueTask<T> call, CancellationToken cancellationToken)
        => call.AsTask().WaitAsync(_timeout, _timeProvider, cancellationToken);

    private static string SlotKey(int slot) => $"{KeyPrefix}slot:{slot}";

    private static string PartKey(string instanceId, string part) => $"{KeyPrefix}{instanceId}:{part}";

    /// <summary>Only what <see cref="InstanceId"/> produces is read back: a forged slot value names no other key.</summary>
    private static bool IsInstanceId(string value) => value.Length == 32 && value.All(char.IsAsciiHexDigitLower);

    private static partial class Log
    {
        [LoggerMessage(EventId = 2510, EventName = "DashboardActivitySlotsFull", Level = LogLevel.Warning,
            Message = "All {MaxInstances} activity slots in the store are held by other instances; this instance's activity shows only on its own dashboard.")]
        public static partial void SlotsFull(ILogger logger, int maxInstances);

        [LoggerMessage(EventId = 2511, EventName = "DashboardActivityPublishFailed", Level = LogLevel.Warning,
            Message = "Publishing this instance's activity to the store failed ({ErrorType}); the next attempt is in one interval.")]
        public static partial void PublishFailed(ILogger logger, string errorType);

        [LoggerMessage(EventId = 2512, EventName = "DashboardActivityReadFailed", Level = LogLevel.Warning,
            Message = "Reading the other instances' activity from the store failed ({ErrorType}); the dashboard shows this instance's only.")]
        public static partial void ReadFailed(ILogger logger, string errorType);

        [LoggerMessage(EventId = 3035, EventName = "DashboardActivityLeaveFailed", Level = LogLevel.Warning,
            Message = "This instance's activity slot could not be given up in the store as it shut down ({ErrorType}); the other instances show it until it expires, within {TimeToLive}.")]
        public static partial void LeaveFailed(ILogger logger, string errorType, TimeSpan timeToLive);
    }
}
