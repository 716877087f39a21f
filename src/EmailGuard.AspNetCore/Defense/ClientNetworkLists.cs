using Microsoft.Extensions.Logging;

namespace EmailGuard.AspNetCore;

/// <summary>
/// This instance's view of the client-network deny and allow lists: read from <see cref="IEmailGuardLists"/> (the
/// shared state store) when first needed, then again every refresh interval in the background, so a request never
/// waits on the store after the first. A failed read keeps the previous view.
/// </summary>
internal sealed partial class ClientNetworkLists
{
    private readonly IEmailGuardLists? _lists;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private ClientNetworkTable _table = ClientNetworkTable.Empty;
    private DateTimeOffset _loadedAt = DateTimeOffset.MinValue;
    private Task? _loading;
    private bool _loadedOnce;

    public ClientNetworkLists(IEmailGuardLists? lists, TimeProvider time, ILogger logger)
    {
        _lists = lists;
        _time = time;
        _logger = logger;
    }

    /// <summary>The current table; loads it on the first call, and starts a background refresh when it is older than <paramref name="refreshInterval"/>.</summary>
    public ValueTask<ClientNetworkTable> GetAsync(TimeSpan refreshInterval)
    {
        if (_lists is null)
        {
            return new(ClientNetworkTable.Empty);
        }

        Task? loading = null;
        lock (_gate)
        {
            if (_time.GetUtcNow() - _loadedAt >= refreshInterval)
            {
                _loading ??= LoadAsync();
                loading = _loading;
            }
        }

        if (Volatile.Read(ref _loadedOnce) || loading is null)
        {
            return new(Volatile.Read(ref _table));
        }

        return AwaitFirstAsync(loading);
    }

    private async ValueTask<ClientNetworkTable> AwaitFirstAsync(Task loading)
    {
        await loading.ConfigureAwait(false);
        return Volatile.Read(ref _table);
    }

    private async Task LoadAsync()
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
        }
        catch (Exception ex) when (ex is EmailGuardStoreUnavailableException or OperationCanceledException or InvalidOperationException)
        {
            Log.LoadFailed(_logger, LogValue.Of(ex));
        }
        finally
        {
            lock (_gate)
            {
                _loadedAt = _time.GetUtcNow();
                _loading = null;
            }

            Volatile.Write(ref _loadedOnce, true);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1808, EventName = "ClientNetworkListsLoaded", Level = LogLevel.Debug,
            Message = "EmailGuard read {Count} client-network list entries.")]
        public static partial void Loaded(ILogger logger, int count);

        [LoggerMessage(EventId = 1806, EventName = "ClientNetworkListsLoadFailed", Level = LogLevel.Warning,
            Message = "EmailGuard could not read the client-network lists; the previous entries stay in force.")]
        public static partial void LoadFailed(ILogger logger, Exception exception);
    }
}
