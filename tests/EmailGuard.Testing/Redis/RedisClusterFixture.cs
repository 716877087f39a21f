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
/// <remarks>
/// Use it as the fixture of the <c>redis-cluster</c> collection, apart from the single-server tests. Fault tests derive
/// their own fixture (<see cref="RedisFaultClusterFixture"/>) with other cluster settings, so that killing a master
/// never disturbs the shared cluster.
/// </remarks>
public class RedisClusterFixture : IAsyncLifetime
{
    /// <summary>The name of the xunit collection cluster tests share.</summary>
    public const string CollectionName = "redis-cluster";

    /// <summary>The environment variable that points the tests at an existing cluster.</summary>
    public const string EnvironmentVariable = "EMAILGUARD_REDIS_CLUSTER";

    private const int Masters = 3;
    private static readonly TimeSpan s_readyTimeout = TimeSpan.FromSeconds(60);

    private readonly int _nodeTimeoutMilliseconds;
    private readonly bool _requireFullCoverage;
    private readonly int _replicasPerMaster;
    private readonly List<RedisServerProcess> _nodes = [];
    private readonly TestMultiplexers _multiplexers = new();
    private string? _connectionString;

    /// <summary>Creates the fixture with Redis's defaults: full slot coverage required, and a 5 s node timeout.</summary>
    public RedisClusterFixture()
        : this(nodeTimeoutMilliseconds: 5000, requireFullCoverage: true)
    {
    }

    /// <summary>Creates a fixture whose local nodes run with the given cluster settings.</summary>
    /// <param name="nodeTimeoutMilliseconds">
    /// <c>cluster-node-timeout</c>: how long a master may be unreachable before the others flag it as failed.
    /// </param>
    /// <param name="requireFullCoverage">
    /// <c>cluster-require-full-coverage</c>: when <see langword="false"/>, a failed master's slots stop answering but
    /// the other masters keep serving theirs.
    /// </param>
    /// <param name="replicasPerMaster">How many replicas each master gets (<c>--cluster-replicas</c>).</param>
    protected RedisClusterFixture(int nodeTimeoutMilliseconds, bool requireFullCoverage, int replicasPerMaster = 0)
    {
        _nodeTimeoutMilliseconds = nodeTimeoutMilliseconds;
        _requireFullCoverage = requireFullCoverage;
        _replicasPerMaster = replicasPerMaster;
    }

    /// <summary>Gets the connection string naming every master.</summary>
    public string ConnectionString => _connectionString ?? throw new InvalidOperationException("The fixture has not been initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            _connectionString = fromEnvironment;
            Source = "env";
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
            for (int i = 0; i < Masters * (1 + _replicasPerMaster); i++)
            {
                // A node whose port or bus port was taken before it bound them exits at once, and starts again on another pair.
                _nodes.Add(await RedisServerProcess.StartAsync(
                    server,
                    [
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", _nodeTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture),
                        "--cluster-require-full-coverage", _requireFullCoverage ? "yes" : "no",
                    ],
                    RedisServerFixture.StartTimeout,
                    FreeClusterPort).ConfigureAwait(false));
            }

            await RunClusterCreateAsync(cli).ConfigureAwait(false);
            _connectionString = string.Join(",", _nodes.Select(n => n.Endpoint));
            Source = "process";
            await WaitForHealthyAsync().ConfigureAwait(false);
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
        await _multiplexers.DisposeAllAsync().ConfigureAwait(false);

        foreach (RedisServerProcess node in _nodes)
        {
            node.Dispose();
        }

        _nodes.Clear();
    }

    /// <summary>Gets how the cluster was provided: <c>env</c> or <c>process</c>.</summary>
    public string Source { get; private set; } = "none";

    /// <summary>Gets whether <see cref="StopNode"/>, <see cref="PauseNode"/> and <see cref="StartStoppedNodesAsync"/> can control the masters (local processes).</summary>
    public bool CanControlNodes => _nodes.Count > 0;

    /// <summary>
    /// Returns the configuration of a new connection to the cluster, with <c>AllowAdmin</c> and
    /// <c>AbortOnConnectFail = false</c>, as <see cref="RedisServerFixture.CreateConfiguration"/> does for one server.
    /// </summary>
    /// <returns>The configuration; the caller may change it before connecting.</returns>
    public ConfigurationOptions CreateConfiguration() => TestMultiplexers.Configuration(ConnectionString);

    /// <summary>Connects a new, separate admin multiplexer to the cluster: one simulated app instance.</summary>
    /// <returns>The connected multiplexer, disposed by the fixture at the end of the collection.</returns>
    public ConnectionMultiplexer CreateMultiplexer() => _multiplexers.Connect(CreateConfiguration());

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
        info.ArgumentList.Add(_replicasPerMaster.ToString(CultureInfo.InvariantCulture));
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

    /// <summary>Kills the master listening on <paramref name="endpoint"/>'s port (no graceful shutdown). It keeps its port and nodes.conf.</summary>
    /// <param name="endpoint">The master's endpoint, as the multiplexer or the cluster configuration names it.</param>
    /// <exception cref="NotSupportedException">The cluster does not come from local processes.</exception>
    public void StopNode(EndPoint endpoint) => NodeAt(endpoint).Stop();

    /// <summary>
    /// Freezes the master listening on <paramref name="endpoint"/>'s port (<c>SIGSTOP</c>) until <see cref="ResumeNode"/>:
    /// its connections stay open and nothing it serves answers, as a hung master, while the other masters answer. A
    /// pause longer than the cluster's node timeout gets it flagged as failing, so keep it shorter.
    /// </summary>
    /// <param name="endpoint">The master's endpoint, as the multiplexer or the cluster configuration names it.</param>
    /// <exception cref="NotSupportedException">The cluster does not come from local processes.</exception>
    public void PauseNode(EndPoint endpoint) => NodeAt(endpoint).Pause();

    /// <summary>Lets a master frozen by <see cref="PauseNode"/> run again (<c>SIGCONT</c>).</summary>
    /// <param name="endpoint">The master's endpoint.</param>
    /// <exception cref="NotSupportedException">The cluster does not come from local processes.</exception>
    public void ResumeNode(EndPoint endpoint) => NodeAt(endpoint).Resume();

    /// <summary>
    /// Starts every killed master again on its port with its nodes.conf, so it rejoins with its node id and slots (and
    /// no data: the nodes keep nothing on disk), and waits until each answers PING.
    /// </summary>
    /// <returns>A task that completes when every master answers.</returns>
    public async Task StartStoppedNodesAsync()
    {
        foreach (RedisServerProcess node in _nodes.Where(n => !n.IsRunning))
        {
            await node.RestartAsync(RedisServerFixture.StartTimeout).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until every master says <c>cluster_state:ok</c> and sees every other master connected and not flagged
    /// as failing, as after the cluster was created or a killed master has rejoined.
    /// </summary>
    /// <returns>A task that completes when the cluster is healthy.</returns>
    /// <exception cref="InvalidOperationException">The cluster did not become healthy within a minute.</exception>
    public async Task WaitForHealthyAsync()
    {
        if (!CanControlNodes)
        {
            return;
        }

        bool healthy = await PollNodesAsync(_nodes, static (info, nodes) =>
            info.Contains("cluster_state:ok", StringComparison.Ordinal) && NodeLines(nodes).All(line => !IsFlaggedFailing(line[2]) && line[7] == "connected"))
            .ConfigureAwait(false);
        if (!healthy)
        {
            throw new InvalidOperationException($"The test cluster did not become healthy within {s_readyTimeout}.");
        }
    }

    /// <summary>
    /// Waits until every other running master flags the master at <paramref name="endpoint"/> as failed (<c>fail</c>,
    /// agreed by a majority, not just <c>fail?</c>): from then on the cluster itself treats its slots as down.
    /// </summary>
    /// <param name="endpoint">The killed master.</param>
    /// <returns><see langword="true"/> when every other master flagged it within a minute.</returns>
    public Task<bool> WaitUntilFlaggedFailedAsync(EndPoint endpoint)
    {
        string address = NodeAt(endpoint).Endpoint + "@";
        return PollNodesAsync(_nodes.Where(n => n.IsRunning).ToList(), (_, nodes) =>
            NodeLines(nodes).Any(line => line[1].StartsWith(address, StringComparison.Ordinal) && line[2].Split(',').Contains("fail")));
    }

    private RedisServerProcess NodeAt(EndPoint endpoint)
    {
        int port = endpoint switch
        {
            IPEndPoint ip => ip.Port,
            DnsEndPoint dns => dns.Port,
            _ => throw new ArgumentException($"Unexpected endpoint {endpoint}.", nameof(endpoint)),
        };
        return _nodes.SingleOrDefault(n => n.Port == port)
            ?? throw new NotSupportedException($"No local cluster node listens on {endpoint}; the cluster comes from '{Source}'.");
    }

    /// <summary>Asks each node for CLUSTER INFO and CLUSTER NODES until <paramref name="condition"/> holds on all of them, for at most a minute.</summary>
    private static async Task<bool> PollNodesAsync(IReadOnlyList<RedisServerProcess> nodes, Func<string, string, bool> condition)
    {
        List<(RedisServerProcess Node, ConnectionMultiplexer Direct)> connections = [];
        try
        {
            foreach (RedisServerProcess node in nodes)
            {
                ConfigurationOptions options = ConfigurationOptions.Parse(node.Endpoint);
                options.AbortOnConnectFail = false;
                options.AllowAdmin = true;
                options.ConnectTimeout = 1000;
                options.AsyncTimeout = 2000;
                connections.Add((node, await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false)));
            }

            Stopwatch elapsed = Stopwatch.StartNew();
            while (elapsed.Elapsed < s_readyTimeout)
            {
                bool all = true;
                foreach ((RedisServerProcess node, ConnectionMultiplexer direct) in connections)
                {
                    try
                    {
                        // Sent to this node only: its own view of the cluster is what counts.
                        IServer server = direct.GetServer(node.Endpoint);
                        string info = (await server.ExecuteAsync("CLUSTER", "INFO").ConfigureAwait(false)).ToString();
                        string lines = (await server.ExecuteAsync("CLUSTER", "NODES").ConfigureAwait(false)).ToString();
                        all &= condition(info, lines);
                    }
                    catch (RedisException)
                    {
                        all = false;
                    }
                    catch (TimeoutException)
                    {
                        all = false;
                    }
                }

                if (all)
                {
                    return true;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
            }

            return false;
        }
        finally
        {
            foreach ((_, ConnectionMultiplexer direct) in connections)
            {
                await direct.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>CLUSTER NODES, one array per node: id, address, flags, master, ping-sent, pong-recv, epoch, link-state, slots….</summary>
    private static IEnumerable<string[]> NodeLines(string nodes)
        => nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line => line.Split(' '));

    private static bool IsFlaggedFailing(string flags) => flags.Split(',').Any(f => f is "fail" or "fail?");
}
