using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;
using Testcontainers.Redis;
using Xunit;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// A real Redis for tests, found or started once per test collection: <c>EMAILGUARD_REDIS</c> (a connection string) if
/// set; else a local <c>redis-server</c> on a free loopback port, without persistence, in a temp directory; else a
/// Testcontainers Redis when Docker is reachable. When none is available the fixture throws, so the tests FAIL
/// rather than skip (a silently skipped Redis suite is how Redis bugs ship).
/// </summary>
/// <remarks>
/// Use it as a collection fixture (<c>[Collection("redis")]</c> with a <c>[CollectionDefinition("redis")]</c> in the
/// test assembly). Each test takes its own key prefix from <see cref="UniquePrefix"/> and its own multiplexers from
/// <see cref="CreateMultiplexer"/>, one per simulated app instance.
/// </remarks>
public class RedisServerFixture : IAsyncLifetime
{
    /// <summary>The name of the xunit collection Redis tests share.</summary>
    public const string CollectionName = "redis";

    /// <summary>The environment variable that points the tests at an existing Redis.</summary>
    public const string EnvironmentVariable = "EMAILGUARD_REDIS";

    /// <summary>
    /// How long a start may take, every attempt included: generous, since a loaded 2-core CI machine starts servers
    /// for several fixtures at once. A server that exits is noticed at once, not after this.
    /// </summary>
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Garnet, a .NET program, starts slower than redis-server, the more so on a loaded machine.</summary>
    private static readonly TimeSpan s_garnetStartTimeout = TimeSpan.FromSeconds(90);

    private readonly TestMultiplexers _multiplexers = new();
    private readonly string[]? _garnetArguments;
    private RedisServerProcess? _process;
    private RedisContainer? _container;
    private string? _connectionString;
    private Task _resume = Task.CompletedTask;
    private ConnectionMultiplexer? _pauser;

    /// <summary>Creates the fixture of a Redis server.</summary>
    public RedisServerFixture()
    {
    }

    /// <summary>Creates the fixture of a Garnet server started with <paramref name="garnetArguments"/>.</summary>
    /// <param name="garnetArguments">Garnet's flags, e.g. <c>--lua --lua-transaction-mode</c>.</param>
    protected RedisServerFixture(string[] garnetArguments)
    {
        _garnetArguments = garnetArguments;
    }

    /// <summary>
    /// Gets the server's name as it reports it in <c>INFO server</c> (<c>server_name</c>): <c>redis</c> (Redis sends
    /// none), <c>garnet</c> or <c>valkey</c>. Tests that use commands one server lacks decide by this, never by the
    /// fixture's type.
    /// </summary>
    public string ServerName { get; private set; } = "unknown";

    /// <summary>Gets the server's version (<c>garnet_version</c> on Garnet, else <c>redis_version</c>).</summary>
    public string ServerVersion { get; private set; } = "unknown";

    /// <summary>Gets whether the server says it is Garnet.</summary>
    public bool IsGarnet => string.Equals(ServerName, "garnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>Gets the connection string of the Redis under test (without admin flags).</summary>
    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("The fixture has not been initialized.");

    /// <summary>Gets how Redis was provided: <c>env</c>, <c>process</c> or <c>container</c>.</summary>
    public string Source { get; private set; } = "none";

    /// <summary>Gets whether <see cref="Stop"/> and <see cref="Start"/> can control the server (a local process).</summary>
    public bool CanControlServer => _process is not null;

    /// <summary>Gets the port of the local server process, or 0 when Redis comes from elsewhere.</summary>
    public int Port => _process?.Port ?? 0;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (_garnetArguments is not null)
        {
            await StartGarnetAsync(_garnetArguments).ConfigureAwait(false);
        }
        else
        {
            await StartRedisAsync().ConfigureAwait(false);
        }

        await DetectServerAsync().ConfigureAwait(false);
    }

    private async Task StartGarnetAsync(string[] arguments)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(GarnetBinaries.EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            _connectionString = fromEnvironment;
            Source = "env";
            await WaitForPingAsync(_connectionString, s_garnetStartTimeout).ConfigureAwait(false);
            return;
        }

        string? dll = GarnetBinaries.FindServerDll();
        if (dll is null)
        {
            // Under CI, and anywhere else: a Garnet suite that silently does not run is how Garnet bugs ship.
            bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
            throw new InvalidOperationException(
                (ci ? "CI=true and Garnet is not installed: this is a failure, not a skip. " : "Garnet is not installed for the Garnet tests. ")
                + $"Run 'dotnet tool restore' in the repository (it installs garnet-server {GarnetBinaries.Version} from .config/dotnet-tools.json), "
                + $"or set {GarnetBinaries.EnvironmentVariable} to the connection string of a Garnet started with --lua --lua-transaction-mode.");
        }

        _process = await RedisServerProcess.StartGarnetAsync(GarnetBinaries.Dotnet(), dll, arguments, s_garnetStartTimeout).ConfigureAwait(false);
        _connectionString = _process.Endpoint;
        Source = "process";
    }

    private async Task DetectServerAsync()
    {
        await using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(CreateConfiguration()).ConfigureAwait(false);
        string info = await admin.GetServers()[0].InfoRawAsync("server").ConfigureAwait(false) ?? string.Empty;
        string name = "redis";
        string? version = null;
        string? redisVersion = null;
        foreach (string line in info.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("server_name:", StringComparison.Ordinal))
            {
                name = line["server_name:".Length..];
            }
            else if (line.StartsWith("garnet_version:", StringComparison.Ordinal) || line.StartsWith("valkey_version:", StringComparison.Ordinal))
            {
                version = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..];
            }
            else if (line.StartsWith("redis_version:", StringComparison.Ordinal))
            {
                redisVersion = line["redis_version:".Length..];
            }
        }

        ServerName = name;
        ServerVersion = version ?? redisVersion ?? "unknown";
    }

    private async Task StartRedisAsync()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            _connectionString = fromEnvironment;
            Source = "env";
            await WaitForPingAsync(_connectionString).ConfigureAwait(false);
            return;
        }

        string? binary = RedisBinaries.Find("redis-server");
        if (binary is not null)
        {
            _process = await RedisServerProcess.StartAsync(binary, extraArguments: [], s_startTimeout).ConfigureAwait(false);
            _connectionString = _process.Endpoint;
            Source = "process";
            return;
        }

        Exception? dockerError = null;
        try
        {
            _container = new RedisBuilder("redis:7.4-alpine").Build();
            await _container.StartAsync().ConfigureAwait(false);
            _connectionString = _container.GetConnectionString();
            Source = "container";
            return;
        }
#pragma warning disable CA1031 // Any Docker failure means "no Docker"; the message below carries it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            dockerError = ex;
            _container = null;
        }

        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        throw new InvalidOperationException(
            (ci ? "CI=true and no Redis is available: this is a failure, not a skip. " : "No Redis is available for the Redis tests. ")
            + $"Set {EnvironmentVariable} to a connection string (e.g. 127.0.0.1:6379), install redis-server on PATH "
            + "(apt-get install redis-server), or make Docker reachable for Testcontainers.",
            dockerError);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _resume.ConfigureAwait(false);
        await _multiplexers.DisposeAllAsync().ConfigureAwait(false);

        _process?.Dispose();
        _process = null;
        if (_container is not null)
        {
            await _container.DisposeAsync().ConfigureAwait(false);
            _container = null;
        }
    }

    /// <summary>
    /// Returns a fresh key prefix such as <c>t:1a2b3c4d:</c>, so that tests sharing the server never see each other's keys.
    /// </summary>
    /// <returns>The prefix.</returns>
    public static string UniquePrefix() => $"t:{Guid.NewGuid():N}"[..10] + ":";

    /// <summary>
    /// Returns the configuration of a new connection: <c>AllowAdmin</c> so tests can SCRIPT FLUSH, CLIENT KILL and
    /// SCAN, and <c>AbortOnConnectFail = false</c> so a connection survives a server restart.
    /// </summary>
    /// <returns>The configuration; the caller may change it before connecting.</returns>
    public ConfigurationOptions CreateConfiguration() => TestMultiplexers.Configuration(ConnectionString);

    /// <summary>
    /// Connects a new, separate multiplexer: one simulated app instance. The fixture disposes it at the end of the
    /// collection; tests may dispose it earlier.
    /// </summary>
    /// <returns>The connected multiplexer.</returns>
    public ConnectionMultiplexer CreateMultiplexer() => _multiplexers.Connect(CreateConfiguration());

    /// <summary>
    /// Does what <see cref="PauseAsync"/> would do first before it can pause the server (connect the connection that
    /// sends <c>CLIENT PAUSE</c>; wait until the last pause of a frozen Garnet is over), so that a test timing a pause
    /// from just before <see cref="PauseAsync"/> does not count that too.
    /// </summary>
    /// <returns>A task that completes when the server can be paused at once.</returns>
    public async Task PrepareToPauseAsync()
    {
        if (!IsGarnet)
        {
            _pauser ??= CreateMultiplexer();
            await _pauser.GetServers()[0].PingAsync().ConfigureAwait(false);
            return;
        }

        await _resume.ConfigureAwait(false);
    }

    /// <summary>
    /// Holds every command of every client for <paramref name="duration"/>, so that callers pile up behind one in flight.
    /// On Redis this is <c>CLIENT PAUSE</c> (<c>WRITE</c> holds only writes; reads go on). Garnet has no
    /// <c>CLIENT PAUSE</c>, so a local Garnet is frozen with <c>SIGSTOP</c> and resumed with <c>SIGCONT</c>: it holds
    /// reads too, which a caller of <c>writesOnly</c> must not rely on answering.
    /// </summary>
    /// <param name="duration">How long to hold commands.</param>
    /// <param name="writesOnly">Hold only writes where the server can (Redis).</param>
    /// <returns>A task that completes once the pause has begun.</returns>
    /// <exception cref="NotSupportedException">The server is a Garnet that this fixture did not start.</exception>
    public async Task PauseAsync(TimeSpan duration, bool writesOnly = false)
    {
        if (!IsGarnet)
        {
            _pauser ??= CreateMultiplexer();
            await _pauser.GetServers()[0].ExecuteAsync(
                "CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), writesOnly ? "WRITE" : "ALL").ConfigureAwait(false);
            return;
        }

        RedisServerProcess process = _process
            ?? throw new NotSupportedException($"Garnet comes from '{Source}' and has no CLIENT PAUSE; only a local Garnet can be paused (SIGSTOP).");
        await _resume.ConfigureAwait(false);
        process.Pause();
        _resume = Task.Run(async () =>
        {
            await Task.Delay(duration, TimeProvider.System).ConfigureAwait(false);
            process.Resume();
        });
    }

    /// <summary>
    /// Freezes the local server (<c>SIGSTOP</c>) until <see cref="Thaw"/>: connections stay open and nothing answers, as
    /// a hung Redis. Returns once every thread of the process has stopped.
    /// </summary>
    /// <exception cref="NotSupportedException">Redis does not come from a local process.</exception>
    public void Freeze()
        => (_process ?? throw new NotSupportedException($"Redis comes from '{Source}'; only a local server can be frozen.")).Pause();

    /// <summary>Lets a server frozen by <see cref="Freeze"/> run again (<c>SIGCONT</c>).</summary>
    /// <exception cref="NotSupportedException">Redis does not come from a local process.</exception>
    public void Thaw()
        => (_process ?? throw new NotSupportedException($"Redis comes from '{Source}'; only a local server can be frozen.")).Resume();

    /// <summary>Kills the local server process (no graceful save), for failure tests. The port stays reserved.</summary>
    /// <exception cref="NotSupportedException">Redis does not come from a local process.</exception>
    public void Stop()
        => (_process ?? throw new NotSupportedException($"Redis comes from '{Source}'; only a local redis-server can be stopped.")).Stop();

    /// <summary>Starts the local server process again on the same port and waits until it answers.</summary>
    /// <returns>A task that completes when the server answers PING.</returns>
    /// <exception cref="NotSupportedException">Redis does not come from a local process.</exception>
    public async Task StartAsync()
    {
        RedisServerProcess process = _process
            ?? throw new NotSupportedException($"Redis comes from '{Source}'; only a local redis-server can be started.");
        await process.RestartAsync(_garnetArguments is null ? s_startTimeout : s_garnetStartTimeout).ConfigureAwait(false);
    }

    /// <summary>Synchronous form of <see cref="StartAsync"/>.</summary>
    public void Start() => StartAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Lists every key under <paramref name="prefix"/> with its remaining time to live (<see langword="null"/> when the
    /// key has none), scanning every primary.
    /// </summary>
    /// <param name="multiplexer">An admin connection.</param>
    /// <param name="prefix">The key prefix.</param>
    /// <returns>The keys and their time to live.</returns>
    public static async Task<IReadOnlyList<(RedisKey Key, TimeSpan? Ttl)>> ScanWithTtlAsync(IConnectionMultiplexer multiplexer, string prefix)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        List<(RedisKey, TimeSpan?)> keys = [];
        foreach (IServer server in multiplexer.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            IDatabase database = multiplexer.GetDatabase();
            await foreach (RedisKey key in server.KeysAsync(pattern: EscapeGlob(prefix) + "*", pageSize: 500).ConfigureAwait(false))
            {
                keys.Add((key, await database.KeyTimeToLiveAsync(key).ConfigureAwait(false)));
            }
        }

        return keys;
    }

    internal static string EscapeGlob(string value)
    {
        System.Text.StringBuilder builder = new(value.Length);
        foreach (char c in value)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.ToString();
    }

    internal static int FreeTcpPort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static Task WaitForPingAsync(string connectionString) => WaitForPingAsync(connectionString, s_startTimeout);

    /// <summary>The bound of a local server's start; see <see cref="RedisServerProcess.StartAsync"/>.</summary>
    internal static TimeSpan StartTimeout => s_startTimeout;

    internal static async Task WaitForPingAsync(string connectionString, TimeSpan timeout, Func<bool>? isRunning = null)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 1000;
        Stopwatch elapsed = Stopwatch.StartNew();
        Exception? last = null;
        await using ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        while (elapsed.Elapsed < timeout)
        {
            if (isRunning is not null && !isRunning())
            {
                throw new InvalidOperationException($"The Redis server for {connectionString} exited before it answered PING.", last);
            }

            try
            {
                await multiplexer.GetDatabase().PingAsync().ConfigureAwait(false);
                return;
            }
            catch (RedisException ex)
            {
                last = ex;
            }
            catch (TimeoutException ex)
            {
                last = ex;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false);
        }

        throw new InvalidOperationException($"Redis at {connectionString} did not answer PING within {timeout}.", last);
    }
}
