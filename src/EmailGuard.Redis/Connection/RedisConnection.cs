using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The one Redis connection EmailGuard's Redis components share (rate-limit counters now; blocklists and flags can
/// follow): connects lazily on first use, once, thread-safely, and knows the key prefix and whether Redis is a cluster.
/// </summary>
/// <remarks>
/// Modeled on the Microsoft Redis cache: the multiplexer comes from the options (connection string, configuration,
/// factory) or, when none is set, from the service collection. Only a multiplexer this class created is disposed here.
/// A connect that fails is not remembered, so the next call tries again.
/// </remarks>
internal sealed partial class RedisConnection : IAsyncDisposable, IDisposable
{
    /// <summary>The most times a command refused as a read-only replica is sent again: after the first search, and after a second.</summary>
    internal const int MaxReplicaResends = 2;

    private readonly Func<Task<IConnectionMultiplexer>> _connect;
    private readonly bool _ownsMultiplexer;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly RedisScriptPreloader _scripts;
    private readonly RedisPrimaryRefresh _primaryRefresh;
    private volatile IConnectionMultiplexer? _multiplexer;
    private volatile IDatabase? _database;
    private int _clusterState; // 0 unknown, 1 standalone, 2 cluster
    private bool _disposed;
    private int _multiplexerClosed; // 1 once Dispose or a connect that finished after it took the multiplexer to close

    /// <param name="options">The options.</param>
    /// <param name="registeredMultiplexer">
    /// Resolves the multiplexer registered in the service collection, if any; called only on first use and only when
    /// the options name no connection, so that resolving it never connects at startup.
    /// </param>
    /// <param name="logger">The logger.</param>
    /// <param name="timeProvider">The clock that spaces the searches for a new primary; the system clock when null.</param>
    public RedisConnection(
        RedisRateLimitStoreOptions options, Func<IConnectionMultiplexer?>? registeredMultiplexer, ILogger<RedisConnection>? logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        KeyPrefix = options.KeyPrefix ?? string.Empty;
        if (KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException("KeyPrefix must not contain '{' or '}'.", nameof(options));
        }

        _logger = logger ?? NullLogger<RedisConnection>.Instance;
        _typedLogger = logger;
        _timeProvider = timeProvider;
        _scripts = new RedisScriptPreloader(_logger);
        _primaryRefresh = new RedisPrimaryRefresh(timeProvider ?? TimeProvider.System, _logger);
        if (options.ConnectionMultiplexerFactory is { } factory)
        {
            _connect = factory;
        }
        else if (options.ConfigurationOptions is { } configurationOptions)
        {
            ConfigurationOptions copy = configurationOptions.Clone();
            copy.AbortOnConnectFail = false;
            _configuration = copy;
            _connect = async () => await ConnectionMultiplexer.ConnectAsync(copy).ConfigureAwait(false);
            _ownsMultiplexer = true;
        }
        else if (!string.IsNullOrWhiteSpace(options.Configuration))
        {
            ConfigurationOptions parsed = ConfigurationOptions.Parse(options.Configuration);
            parsed.AbortOnConnectFail = false;
            _configuration = parsed;
            _connect = async () => await ConnectionMultiplexer.ConnectAsync(parsed).ConfigureAwait(false);
            _ownsMultiplexer = true;
        }
        else if (registeredMultiplexer is not null)
        {
            _connect = () => Task.FromResult(registeredMultiplexer()
                ?? throw new InvalidOperationException("No IConnectionMultiplexer is registered and RedisRateLimitStoreOptions names no connection."));
        }
        else
        {
            throw new InvalidOperationException(
                "No Redis connection: set RedisRateLimitStoreOptions.Configuration, ConfigurationOptions or ConnectionMultiplexerFactory, "
                + "or register an IConnectionMultiplexer.");
        }
    }

    /// <summary>Creates a connection over an existing multiplexer, which the caller keeps owning (tests, benchmarks).</summary>
    public RedisConnection(IConnectionMultiplexer multiplexer, string keyPrefix, ILogger<RedisConnection>? logger = null)
        : this(new RedisRateLimitStoreOptions { KeyPrefix = keyPrefix, ConnectionMultiplexerFactory = () => Task.FromResult(multiplexer) }, null, logger)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
    }

    /// <summary>The prefix every key starts with; it never contains a brace.</summary>
    public string KeyPrefix { get; }

    /// <summary>Completes when every script load started so far has been answered; for tests.</summary>
    internal Task ScriptLoads => _scripts.Loading;

    /// <summary>The scripts the connection keeps loaded; for tests.</summary>
    internal IReadOnlyList<RedisScript> ScriptsKeptLoaded => _scripts.Scripts;

    /// <summary>
    /// Keeps a component's scripts in every server's script cache from the connect on, and again after a reconnect,
    /// a failover or a cluster change (<see cref="RedisScriptPreloader"/>), so that their first calls by SHA find them.
    /// Call it before the component's first script; it never connects, waits or throws.
    /// </summary>
    /// <param name="scripts">The component's scripts.</param>
    public void KeepLoaded(params ReadOnlySpan<RedisScript> scripts) => _scripts.Add(scripts);

    /// <summary>Looks for the primary again after a read-only refusal; for tests.</summary>
    internal RedisPrimaryRefresh PrimaryRefresh => _primaryRefresh;

    /// <summary>
    /// How many times the connection has looked for the primary so far: read it just before sending a command that may
    /// be refused as a read-only replica, and hand it to <see cref="PrimaryFoundAsync"/> with the refusal.
    /// </summary>
    public int PrimarySearches => _primaryRefresh.Searches;

    /// <summary>
    /// After a command was refused as a read-only replica (<c>READONLY</c>), waits until the connection has looked for
    /// the primary since the command was sent (starting the search if none has), so that the command can be sent again
    /// where the client now routes it. A replica refuses every write, and every EmailGuard script and write fails at its
    /// first write when refused, so a refused command wrote nothing and sending it again counts it once.
    /// </summary>
    /// <remarks>
    /// The wait is bounded by what is left of <paramref name="budget"/> since <paramref name="startedAt"/> (the retry
    /// budget of the call, half its timeout: the caller's own timeout still bounds the caller), and a command is sent
    /// again at most <see cref="MaxReplicaResends"/> times: a server still refusing after two searches is not a failover
    /// in progress. When either runs out the command fails with its refusal, as it did before (logged, 2956).
    /// </remarks>
    /// <param name="refusal">The refusal's message; anything but <c>READONLY</c> is not sent again.</param>
    /// <param name="seen">What <see cref="PrimarySearches"/> read before the refused command was sent.</param>
    /// <param name="resends">How many times this command was already sent again after such a refusal.</param>
    /// <param name="startedAt">When the call began, a timestamp of <paramref name="timeProvider"/>.</param>
    /// <param name="budget">How long, from <paramref name="startedAt"/>, the call may wait.</param>
    /// <param name="timeProvider">The clock of <paramref name="startedAt"/> and <paramref name="budget"/>.</param>
    /// <param name="what">The command or script, for the log.</param>
    /// <param name="cancellationToken">
    /// The caller's token: a call cancelled by the time it would be sent again is not (<see cref="OperationCanceledException"/>).
    /// </param>
    /// <returns><see langword="true"/> to send the command again; <see langword="false"/> to fail it with its refusal.</returns>
    public async ValueTask<bool> PrimaryFoundAsync(
        string refusal, int seen, int resends, long startedAt, TimeSpan budget, TimeProvider timeProvider, string what, CancellationToken cancellationToken)
    {
        if (!RedisPrimaryRefresh.IsReplicaRefusal(refusal))
        {
            return false;
        }

        Task searched = _primaryRefresh.SearchedSince(seen, refusal);
        TimeSpan waited = timeProvider.GetElapsedTime(startedAt);
        if (resends >= MaxReplicaResends || waited >= budget)
        {
            Log.ReplicaRefusalNotResent(_logger, what, resends, waited);
            return false;
        }

        if (!searched.IsCompleted)
        {
            try
            {
                await searched.WaitAsync(budget - waited, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Log.ReplicaRefusalNotResent(_logger, what, resends, timeProvider.GetElapsedTime(startedAt));
                return false;
            }
        }

        // Also when the search ended before the refusal came back: a caller that cancelled meanwhile is not charged by
        // a command it no longer waits for (the refused one wrote nothing).
        cancellationToken.ThrowIfCancellationRequested();
        string shownRefusal = LogValue.Of(refusal);
        Log.ReplicaRefusalResent(_logger, what, shownRefusal);
        return true;
    }

    /// <summary>
    /// Sends a write of the state or key-value store, and sends it again when it is refused as a read-only replica and
    /// the connection finds the primary within <paramref name="budget"/> (<see cref="PrimaryFoundAsync"/>).
    /// </summary>
    /// <typeparam name="T">The write's reply.</typeparam>
    /// <param name="write">Sends the write; it must write nothing when refused (one command, or a script that fails at its first write).</param>
    /// <param name="what">The write, for the log.</param>
    /// <param name="budget">How long the write may wait for the primary: half the store's timeout.</param>
    /// <param name="timeProvider">The clock the budget is measured with.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The write's reply.</returns>
    public async Task<T> WriteAsync<T>(Func<IDatabase, Task<T>> write, string what, TimeSpan budget, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        IDatabase database = await GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        long startedAt = timeProvider.GetTimestamp();
        for (int resends = 0; ; resends++)
        {
            int seen = PrimarySearches;
            try
            {
                return await write(database).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (RedisPrimaryRefresh.IsReplicaRefusal(ex.Message))
            {
                if (!await PrimaryFoundAsync(ex.Message, seen, resends, startedAt, budget, timeProvider, what, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Returns the database, connecting on the first call.</summary>
    public ValueTask<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken = default)
    {
        IDatabase? database = _database;
        return database is not null ? new(database) : ConnectAsync(cancellationToken);
    }

    /// <summary>Gets the multiplexer once connected; null before.</summary>
    public IConnectionMultiplexer? ConnectedMultiplexer => _multiplexer;

    /// <summary>Returns the multiplexer, connecting on the first call.</summary>
    public async ValueTask<IConnectionMultiplexer> GetMultiplexerAsync(CancellationToken cancellationToken = default)
    {
        _ = await GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        return _multiplexer!;
    }

    /// <summary>
    /// Whether the server is a Redis Cluster, so that multi-key scripts must stay within one hash slot. While no
    /// server has answered yet this says <see langword="true"/>: splitting by slot is safe on a standalone server,
    /// while a cross-slot script on a cluster fails.
    /// </summary>
    public bool IsCluster
    {
        get
        {
            int state = Volatile.Read(ref _clusterState);
            if (state != 0)
            {
                return state == 2;
            }

            IConnectionMultiplexer? multiplexer = _multiplexer;
            if (multiplexer is null)
            {
                return true;
            }

            bool anyConnected = false;
            foreach (IServer server in multiplexer.GetServers())
            {
                if (server.IsConnected)
                {
                    anyConnected = true;
                    if (server.ServerType == ServerType.Cluster)
                    {
                        Volatile.Write(ref _clusterState, 2);
                        return true;
                    }
                }
            }

            if (anyConnected)
            {
                Volatile.Write(ref _clusterState, 1);
                return false;
            }

            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Interlocked.MemoryBarrier(); // before reading _multiplexer: see ConnectAsync
        _scripts.Detach();
        if (_ownsMultiplexer && _multiplexer is { } multiplexer && Interlocked.Exchange(ref _multiplexerClosed, 1) == 0)
        {
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _replicaWait, null) is { } replicaWait)
        {
            await replicaWait.DisposeAsync().ConfigureAwait(false);
        }

        _connectLock.Dispose();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Interlocked.MemoryBarrier(); // before reading _multiplexer: see ConnectAsync
        _scripts.Detach();
        if (_ownsMultiplexer && _multiplexer is { } multiplexer && Interlocked.Exchange(ref _multiplexerClosed, 1) == 0)
        {
            multiplexer.Dispose();
        }

        Interlocked.Exchange(ref _replicaWait, null)?.Dispose();

        _connectLock.Dispose();
    }

    private async ValueTask<IDatabase> ConnectAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_database is { } existing)
            {
                return existing;
            }

            Log.Connecting(_logger);
            IConnectionMultiplexer multiplexer = await _connect().ConfigureAwait(false)
                ?? throw new InvalidOperationException("RedisRateLimitStoreOptions.ConnectionMultiplexerFactory returned null.");
            _multiplexer = multiplexer;

            // Disposed while it connected (the replica-wait connection connects on its first WAIT, shutdown included): the
            // dispose found no multiplexer to close, and this one would stay open for the life of the process. Each side
            // writes its own field before it reads the other's, so one of them sees both and closes it, once.
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _disposed))
            {
                if (_ownsMultiplexer && Interlocked.Exchange(ref _multiplexerClosed, 1) == 0)
                {
                    await multiplexer.DisposeAsync().ConfigureAwait(false);
                }

                ObjectDisposedException.ThrowIf(true, this);
            }

            // Before the database is handed out: the loads then go out ahead of the first caller's script.
            _scripts.Attach(multiplexer);
            _primaryRefresh.Attach(multiplexer);
            IDatabase database = multiplexer.GetDatabase();
            _database = database;
            Log.Connected(_logger, multiplexer.IsConnected ? "connected" : "not connected yet");
            return database;
        }
        finally
        {
            _connectLock.Release();
        }
    }
}
