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
            _connect = async () => await ConnectionMultiplexer.ConnectAsync(copy).ConfigureAwait(false);
            _ownsMultiplexer = true;
        }
        else if (!string.IsNullOrWhiteSpace(options.Configuration))
        {
            ConfigurationOptions parsed = ConfigurationOptions.Parse(options.Configuration);
            parsed.AbortOnConnectFail = false;
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
    /// Looks at a failed command's error, a whole reply's or one batch member's: a refusal as a read-only replica
    /// (<c>READONLY</c>) means the client's idea of the primary is out of date (a failover it has not seen), so it looks
    /// again, in the background (<see cref="RedisPrimaryRefresh"/>). The command itself still fails: nothing was written.
    /// </summary>
    /// <param name="message">The error message.</param>
    public void ObserveFailure(string message)
    {
        if (RedisPrimaryRefresh.IsReplicaRefusal(message))
        {
            _primaryRefresh.ReplicaRefused(message);
        }
    }

    /// <summary><see cref="ObserveFailure"/> as an exception filter, for every script and write: it never catches.</summary>
    /// <param name="exception">The server's error.</param>
    /// <returns><see langword="false"/>.</returns>
    public bool Observed(RedisServerException exception)
    {
        ObserveFailure(exception.Message);
        return false;
    }

    /// <summary>Returns the database, connecting on the first call.</summary>
    public ValueTask<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken = default)
    {
        IDatabase? database = _database;
        return database is not null ? new(database) : ConnectAsync(cancellationToken);
    }

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
        _scripts.Detach();
        if (_ownsMultiplexer && _multiplexer is { } multiplexer)
        {
            await multiplexer.DisposeAsync().ConfigureAwait(false);
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
        _scripts.Detach();
        if (_ownsMultiplexer)
        {
            _multiplexer?.Dispose();
        }

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
