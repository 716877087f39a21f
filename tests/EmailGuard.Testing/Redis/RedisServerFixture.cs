using System.Diagnostics;
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
public sealed class RedisServerFixture : IAsyncLifetime
{
    /// <summary>The name of the xunit collection Redis tests share.</summary>
    public const string CollectionName = "redis";

    /// <summary>The environment variable that points the tests at an existing Redis.</summary>
    public const string EnvironmentVariable = "EMAILGUARD_REDIS";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(20);

    private readonly TestMultiplexers _multiplexers = new();
    private RedisServerProcess? _process;
    private RedisContainer? _container;
    private string? _connectionString;

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
            _process = RedisServerProcess.Start(binary, FreeTcpPort(), extraArguments: []);
            _connectionString = _process.Endpoint;
            Source = "process";
            await WaitForPingAsync(_connectionString).ConfigureAwait(false);
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
        process.Restart();
        await WaitForPingAsync(process.Endpoint).ConfigureAwait(false);
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

    internal static async Task WaitForPingAsync(string connectionString)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 1000;
        Stopwatch elapsed = Stopwatch.StartNew();
        Exception? last = null;
        await using ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        while (elapsed.Elapsed < s_startTimeout)
        {
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

        throw new InvalidOperationException($"Redis at {connectionString} did not answer PING within {s_startTimeout}.", last);
    }
}
