using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// Keeps this instance's view of lists and flags. A check reads the store's version at most once per
/// <see cref="SendGuardOptions.StateRefreshInterval"/> and reloads only when it changed, so on Redis a check stays one
/// round trip. If the state store fails, the last view stays in force and the failure is logged.
/// </summary>
internal sealed partial class GuardStateCache
{
    private readonly IEmailGuardStateStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly long _intervalTimestamps;
    private readonly ILogger _logger;
    private readonly EmailAddressNormalizationOptions _normalization;
    private readonly Lock _lock = new();
    private GuardStateSnapshot _snapshot = GuardStateSnapshot.Empty;
    private long _checkedAtTimestamp = long.MinValue / 2;
    private Task<GuardStateSnapshot>? _refreshing;

    public GuardStateCache(IEmailGuardStateStore store, IOptions<SendGuardOptions> options, TimeProvider timeProvider, ILogger<GuardStateCache>? logger = null)
    {
        _store = store;
        _timeProvider = timeProvider;
        _intervalTimestamps = (long)(options.Value.StateRefreshInterval.TotalSeconds * timeProvider.TimestampFrequency);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _normalization = options.Value.AddressNormalization;
    }

    public IEmailGuardStateStore Store => _store;

    public ValueTask<GuardStateSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        // Timestamps are cheaper to read than the wall clock, and this runs on every check.
        long now = _timeProvider.GetTimestamp();
        GuardStateSnapshot snapshot = Volatile.Read(ref _snapshot);
        if (now - Volatile.Read(ref _checkedAtTimestamp) < _intervalTimestamps && snapshot.Version != long.MinValue)
        {
            return new(snapshot);
        }

        Task<GuardStateSnapshot> refresh;
        lock (_lock)
        {
            if (_refreshing is { } running)
            {
                refresh = running;
            }
            else
            {
                refresh = RefreshAsync(now);
                if (!refresh.IsCompleted)
                {
                    _refreshing = refresh;
                }
            }
        }

        return refresh.IsCompletedSuccessfully ? new(refresh.Result) : new(refresh.WaitAsync(cancellationToken));
    }

    /// <summary>Reloads at once; called after this instance changed lists or flags, so its own checks see the change.</summary>
    public async ValueTask<GuardStateSnapshot> ReloadAsync(CancellationToken cancellationToken)
    {
        GuardStateData data = await _store.LoadAsync(cancellationToken).ConfigureAwait(false);
        return Publish(new GuardStateSnapshot(data, _normalization, Volatile.Read(ref _snapshot)), _timeProvider.GetTimestamp());
    }

    private async Task<GuardStateSnapshot> RefreshAsync(long now)
    {
        try
        {
            GuardStateSnapshot current = Volatile.Read(ref _snapshot);
            long version = await _store.GetVersionAsync(CancellationToken.None).ConfigureAwait(false);
            if (version == current.Version)
            {
                Volatile.Write(ref _checkedAtTimestamp, now);
                return current;
            }

            GuardStateData data = await _store.LoadAsync(CancellationToken.None).ConfigureAwait(false);
            return Publish(new GuardStateSnapshot(data, _normalization, Volatile.Read(ref _snapshot)), now);
        }
        catch (Exception ex)
        {
            LogStateStoreFailure(_logger, ex);
            Volatile.Write(ref _checkedAtTimestamp, now);
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

    private GuardStateSnapshot Publish(GuardStateSnapshot snapshot, long now)
    {
        lock (_lock)
        {
            // Versions only grow, so a slow refresh that read an older state cannot undo a newer one.
            if (snapshot.Version >= _snapshot.Version)
            {
                _snapshot = snapshot;
            }

            Volatile.Write(ref _checkedAtTimestamp, now);
            return _snapshot;
        }
    }

    [LoggerMessage(EventId = 410, EventName = "StateStoreFailure", Level = LogLevel.Warning, Message = "The send guard's state store failed; the last known blocklists and flags stay in force.")]
    private static partial void LogStateStoreFailure(ILogger logger, Exception exception);
}
