using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;
using Xunit;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// A three-master Redis Cluster on 127.0.0.1 for tests: <c>EMAILGUARD_REDIS_CLUSTER</c> (a connection string) if set;
/// else three local <c>redis-server --cluster-enabled yes</c> processes joined with <c>redis-cli --cluster create</c>.
/// When neither is possible the fixture throws, so cluster tests FAIL rather than skip.
/// </summary>
/// <remarks>Use it as the fixture of the <c>redis-cluster</c> collection, apart from the single-server tests.</remarks>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    /// <summary>The name of the xunit collection cluster tests share.</summary>
    public const string CollectionName = "redis-cluster";

    /// <summary>The environment variable that points the tests at an existing cluster.</summary>
    public const string EnvironmentVariable = "EMAILGUARD_REDIS_CLUSTER";

    private const int Masters = 3;
    private static readonly TimeSpan s_readyTimeout = TimeSpan.FromSeconds(60);

    private readonly List<RedisServerProcess> _nodes = [];
    private readonly List<ConnectionMultiplexer> _multiplexers = [];
    private readonly Lock _lock = new();
    private string? _connectionString;

    /// <summary>Gets the connection string naming every master.</summary>
    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("The fixture has not been initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            _connectionString = fromEnvironment;
            return;
        }

        string? server = RedisBinaries.Find("redis-server");
        string? cli = RedisBinaries.Find("redis-cli");
        if (server is null || cli is null)
        {
            throw new InvalidOperationException(
                $"The Redis Cluster tests need redis-server and redis-cli on PATH (apt-get install redis-server redis-tools), "
                + $"or {EnvironmentVariable} set to a cluster's connection string. This is a failure, not a skip.");
        }

        try
        {
            for (int i = 0; i < Masters; i++)
            {
                int port = FreeClusterPort();
                _nodes.Add(RedisServerProcess.Start(
                    server, port, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"]));
            }

            foreach (RedisServerProcess node in _nodes)
            {
                await RedisServerFixture.WaitForPingAsync(node.Endpoint).ConfigureAwait(false);
            }

            await RunClusterCreateAsync(cli).ConfigureAwait(false);
            _connectionString = string.Join(",", _nodes.Select(n => n.Endpoint));
            await WaitForClusterOkAsync().ConfigureAwait(false);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        ConnectionMultiplexer[] multiplexers;
        lock (_lock)
        {
            multiplexers = [.. _multiplexers];
            _multiplexers.Clear();
        }

        foreach (ConnectionMultiplexer multiplexer in multiplexers)
        {
            await multiplexer.DisposeAsync().ConfigureAwait(false);
        }

        foreach (RedisServerProcess node in _nodes)
        {
            node.Dispose();
        }

        _nodes.Clear();
    }

    /// <summary>Connects a new, separate admin multiplexer to the cluster: one simulated app instance.</summary>
    /// <returns>The connected multiplexer, disposed by the fixture at the end of the collection.</returns>
    public ConnectionMultiplexer CreateMultiplexer()
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(ConnectionString);
        options.AllowAdmin = true;
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        options.SyncTimeout = 10000;
        options.AsyncTimeout = 10000;
        ConnectionMultiplexer multiplexer = ConnectionMultiplexer.Connect(options);
        lock (_lock)
        {
            _multiplexers.Add(multiplexer);
        }

        return multiplexer;
    }

    /// <summary>A port whose cluster bus port (port + 10000) is free as well.</summary>
    private static int FreeClusterPort()
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int port = RedisServerFixture.FreeTcpPort();
            if (port + 10000 > IPEndPoint.MaxPort)
            {
                continue;
            }

            try
            {
                using TcpListener bus = new(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
                // The bus port is taken; try another.
            }
        }

        throw new InvalidOperationException("Found no free port pair for a cluster node.");
    }

    private async Task RunClusterCreateAsync(string cli)
    {
        ProcessStartInfo info = new(cli)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add("--cluster");
        info.ArgumentList.Add("create");
        foreach (RedisServerProcess node in _nodes)
        {
            info.ArgumentList.Add(node.Endpoint);
        }

        info.ArgumentList.Add("--cluster-replicas");
        info.ArgumentList.Add("0");
        info.ArgumentList.Add("--cluster-yes");

        using Process process = Process.Start(info) ?? throw new InvalidOperationException("Could not start redis-cli.");
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using CancellationTokenSource timeout = new(s_readyTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new InvalidOperationException("redis-cli --cluster create did not finish in time.");
        }

        if (process.ExitCode != 0)
        {
            string stdout = await output.ConfigureAwait(false);
            string stderr = await error.ConfigureAwait(false);
            throw new InvalidOperationException(
                string.Create(CultureInfo.InvariantCulture, $"redis-cli --cluster create failed ({process.ExitCode}): {stdout} {stderr}"));
        }
    }

    private async Task WaitForClusterOkAsync()
    {
        Stopwatch elapsed = Stopwatch.StartNew();
        while (true)
        {
            bool allOk = true;
            foreach (RedisServerProcess node in _nodes)
            {
                ConfigurationOptions options = ConfigurationOptions.Parse(node.Endpoint);
                options.AbortOnConnectFail = false;
                options.AllowAdmin = true;
                await using ConnectionMultiplexer direct = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
                RedisResult info = await direct.GetServer(node.Endpoint).ExecuteAsync("CLUSTER", "INFO").ConfigureAwait(false);
                allOk &= info.ToString().Contains("cluster_state:ok", StringComparison.Ordinal);
            }

            if (allOk)
            {
                return;
            }

            if (elapsed.Elapsed > s_readyTimeout)
            {
                throw new InvalidOperationException($"The test cluster did not reach cluster_state:ok within {s_readyTimeout}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }
    }
}
