using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace EmailGuard.AspNetCore;

/// <summary>
/// This instance's view of the client-network deny and allow lists: read from <see cref="IEmailGuardLists"/> (the
/// shared state store) when first needed, then again every refresh interval in the background, so a request never
/// waits on the store after the first. A failed read keeps the previous view.
/// </summary>
/// <remarks>
/// A client-network entry written through this instance's lists (<see cref="IEmailGuardLists.GetChangeToken"/>) makes
/// the view stale at once: the next request waits for a new reading, so a network banned here is refused from the very
/// next request, not up to an interval later. Other instances' writes arrive with the periodic reading, and a request
/// never gets an answer from a table twice the refresh interval old.
/// </remarks>
internal sealed partial class ClientNetworkLists
{
    private readonly IEmailGuardLists? _lists;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private ClientNetworkTable _table = ClientNetworkTable.Empty;
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;
    private Task? _loading;

    // Changes counts the reasons to read the lists before answering: the first reading, then each write through this
    // instance. Loaded is the count the last completed reading started after (read before it asked the store), so a
    // write signalled while a reading was under way is read again, not taken as read.
    private long _changes = 1;
    private long _loaded;

    // Whether the last reading failed: the periodic refresh reads every interval (10 s by default) whether or not
    // requests come, so a store outage is warned about once, and its end said once, not at every tick.
    private bool _failing;

    private bool _refreshStarted;

    public ClientNetworkLists(IEmailGuardLists? lists, TimeProvider time, ILogger logger)
    {
        _lists = lists;
        _time = time;
        _logger = logger;

        if (lists is not null)
        {
            // Never disposed: the registration lives as long as the lists singleton that holds it, the app's lifetime.
            _ = ChangeToken.OnChange(() => lists.GetChangeToken(EmailGuardPartyType.ClientNetwork), () => Interlocked.Increment(ref _changes));
        }
    }

    /// <summary>
    /// The current table. Waits for a reading on the first call, after a write through this instance, and when the
    /// table is twice <paramref name="refreshInterval"/> old; otherwise answers at once, and starts a background
    /// reading when the table is older than <paramref name="refreshInterval"/>.
    /// </summary>
    public ValueTask<ClientNetworkTable> GetAsync(TimeSpan refreshInterval)
    {
        if (_lists is null)
        {
            return new(ClientNetworkTable.Empty);
        }

        long wanted = Interlocked.Read(ref _changes);
        bool current;
        lock (_gate)
        {
            current = _loaded >= wanted;
            TimeSpan age = _time.GetUtcNow() - _loadedAt;
            if (current && age >= refreshInterval * 2)
            {
                // Only requests start readings, so an instance that served none for a while (one the balancer sent
                // nothing to) holds a table as old as its idleness: answered from it, its first request let through a
                // network another instance banned minutes ago. A busy instance's background readings keep its table
                // younger than this, so only the first request after a quiet spell waits, for one reading.
                wanted = Interlocked.Increment(ref _changes);
                current = false;
            }
            else if (current && age >= refreshInterval)
            {
                _loading ??= StartLoad();
            }
        }

        return current ? new(Volatile.Read(ref _table)) : AwaitReadingAsync(wanted);
    }

    /// <summary>
    /// Starts a reading every <paramref name="interval"/> (read again at each tick) whether or not requests arrive, as
    /// the send guard's state is refreshed: requests alone start readings only when they come, so an instance the
    /// balancer sent little answered from a table up to twice the interval old. Null without lists, and when a timer was
    /// started already: every middleware of the app (one per <c>UseEmailGuard</c> branch) shares this instance, and
    /// one timer reads for all of them.
    /// </summary>
    public ITimer? StartPeriodicRefresh(Func<TimeSpan> interval)
    {
        if (_lists is null || Interlocked.Exchange(ref _refreshStarted, true))
        {
            return null;
        }

        TimeSpan period = interval();
        ITimer? timer = null;
        timer = _time.CreateTimer(
            _ =>
            {
                TimeSpan current = interval();
                lock (_gate)
                {
                    // Half the interval: the last reading completed a round trip after the previous tick started it.
                    if (_time.GetUtcNow() - _loadedAt >= current / 2)
                    {
                        _loading ??= StartLoad();
                    }
                }

                if (current != period)
                {
                    period = current;
                    timer?.Change(current, current);
                }
            },
            null,
            period,
            period);
        return timer;
    }

    /// <summary>Waits until a reading that started after change <paramref name="wanted"/> has completed: the one under way, if it did, else a new one.</summary>
    private async ValueTask<ClientNetworkTable> AwaitReadingAsync(long wanted)
    {
        while (true)
        {
            Task loading;
            lock (_gate)
            {
                if (_loaded >= wanted)
                {
                    return Volatile.Read(ref _table);
                }

                loading = _loading ??= StartLoad();
            }

            await loading.ConfigureAwait(false);
        }
    }

    /// <summary>Starts a reading; called under the gate, so a reading's change count is read before it asks the store.</summary>
    private Task StartLoad() => LoadAsync(Interlocked.Read(ref _changes));

    private async Task LoadAsync(long changes)
    {
        await Task.Yield();
        try
        {
            var entries = new List<EmailGuardListEntry>();
            foreach (EmailGuardListKind kind in (EmailGuardListKind[])[EmailGuardListKind.Blocklist, EmailGuardListKind.Allowlist])
            {
                int skip = 0;
                while (true)
                {
                    EmailGuardListPage page = await _lists!.ListAsync(new EmailGuardListQuery
                    {
                        Kind = kind,
                        PartyType = EmailGuardPartyType.ClientNetwork,
                        Skip = skip,
                        Take = EmailGuardListQuery.MaxTake,
                    }).ConfigureAwait(false);
                    entries.AddRange(page.Items);
                    skip += page.Items.Count;
                    if (page.Items.Count == 0 || skip >= page.TotalCount)
                    {
                        break;
                    }
                }
            }

            var table = new ClientNetworkTable(entries);
            Volatile.Write(ref _table, table);
            Log.Loaded(_logger, table.Count);
            if (Interlocked.Exchange(ref _failing, false))
            {
                Log.LoadRecovered(_logger, table.Count);
            }
        }
        catch (Exception ex) when (ex is EmailGuardStoreUnavailableException or OperationCanceledException or InvalidOperationException)
        {
            if (!Interlocked.Exchange(ref _failing, true))
            {
                Log.LoadFailed(_logger, LogValue.Of(ex));
            }
        }
        finally
        {
            lock (_gate)
            {
                _loadedAt = _time.GetUtcNow();
                _loaded = Math.Max(_loaded, changes);
                _loading = null;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1808, EventName = "ClientNetworkListsLoaded", Level = LogLevel.Debug,
            Message = "EmailGuard read {Count} client-network list entries.")]
        public static partial void Loaded(ILogger logger, int count);

        [LoggerMessage(EventId = 1806, EventName = "ClientNetworkListsLoadFailed", Level = LogLevel.Warning,
            Message = "EmailGuard could not read the client-network lists; the previous entries stay in force. Logged once until a reading succeeds (3010).")]
        public static partial void LoadFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 3010, EventName = "ClientNetworkListsLoadRecovered", Level = LogLevel.Information,
            Message = "EmailGuard reads the client-network lists again ({Count} entries), after a failure warned about by 1806.")]
        public static partial void LoadRecovered(ILogger logger, int count);
    }
}
