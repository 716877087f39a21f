using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// Starting a server until it answers: the one start-with-retry path of every fixture and test that runs its own
/// <c>redis-server</c> or Garnet.
/// </summary>
/// <remarks>
/// A free port can be taken between choosing it and the server binding it: other fixtures and test processes start
/// servers in parallel, and a cluster node also binds its port + 10000. Such a server exits at once; waiting on its
/// port looked like a server that never answered PING. So a start watches the process while it waits, gives up on a
/// process that exited at once (quoting its output and log), starts again on a freshly chosen port a few times, and
/// makes sure the server that answers is its own process, not another one that holds the port.
/// </remarks>
internal sealed partial class RedisServerProcess
{
    /// <summary>How many ports a start tries before it gives up.</summary>
    public const int MaxStartAttempts = 5;

    /// <summary>How many lines of <c>redis.log</c> a start failure quotes.</summary>
    private const int LogTailLines = 20;

    /// <summary>How often a start tries the port until the server listens on it.</summary>
    private static readonly TimeSpan s_listenPollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>How long one TCP connect to the port may take; a listener that does not accept by then is left to the PING wait.</summary>
    private static readonly TimeSpan s_listenPollTimeout = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Starts <c>redis-server</c> on a port from <paramref name="choosePort"/> and waits until it answers PING. A server
    /// that exits before it answers (a port taken meanwhile) is started again on another port, up to
    /// <see cref="MaxStartAttempts"/> times, all within <paramref name="timeout"/>.
    /// </summary>
    /// <param name="binary">The <c>redis-server</c> binary.</param>
    /// <param name="extraArguments">Flags after the fixture's own (port, bind, no persistence, log file).</param>
    /// <param name="timeout">The bound of the whole start, every attempt included.</param>
    /// <param name="choosePort">Chooses the port of each attempt; a free loopback port by default.</param>
    /// <param name="password">The server's <c>requirepass</c>, if it needs one.</param>
    /// <returns>The server, answering PING.</returns>
    /// <exception cref="InvalidOperationException">No attempt came up; the message quotes the last one's output.</exception>
    public static Task<RedisServerProcess> StartAsync(
        string binary, string[] extraArguments, TimeSpan timeout, Func<int>? choosePort = null, string? password = null)
        => StartWithRetryAsync(port => Launch(binary, port, extraArguments, password), choosePort ?? RedisServerFixture.FreeTcpPort, timeout);

    /// <summary>Starts Garnet (<c>dotnet GarnetServer.dll</c>, from the local dotnet tool) as <see cref="StartAsync"/> starts Redis.</summary>
    /// <param name="dotnet">The dotnet host.</param>
    /// <param name="garnetServerDll">Garnet's server assembly.</param>
    /// <param name="extraArguments">Garnet's flags.</param>
    /// <param name="timeout">The bound of the whole start, every attempt included.</param>
    /// <returns>The server, answering PING.</returns>
    public static Task<RedisServerProcess> StartGarnetAsync(string dotnet, string garnetServerDll, string[] extraArguments, TimeSpan timeout)
        => StartWithRetryAsync(port => LaunchGarnet(dotnet, garnetServerDll, port, extraArguments), RedisServerFixture.FreeTcpPort, timeout);

    /// <summary>Starts the killed process again on its own port (a cluster node keeps its port) and waits until it answers.</summary>
    /// <param name="timeout">How long it may take to answer.</param>
    /// <returns>A task that completes when it answers PING.</returns>
    /// <exception cref="InvalidOperationException">It exited or did not answer in time; the message quotes its output.</exception>
    public async Task RestartAsync(TimeSpan timeout)
    {
        Restart();
        string? failure = await WaitUntilReadyAsync(Stopwatch.StartNew(), timeout).ConfigureAwait(false);
        if (failure is not null)
        {
            throw new InvalidOperationException($"The server restarted on {Endpoint} did not come up: {failure}");
        }
    }

    private static async Task<RedisServerProcess> StartWithRetryAsync(Func<int, RedisServerProcess> launch, Func<int> choosePort, TimeSpan timeout)
    {
        Stopwatch elapsed = Stopwatch.StartNew();
        List<string> failures = [];
        for (int attempt = 1; attempt <= MaxStartAttempts && elapsed.Elapsed < timeout; attempt++)
        {
            RedisServerProcess server = launch(choosePort());
            string? failure;
            try
            {
                failure = await server.WaitUntilReadyAsync(elapsed, timeout).ConfigureAwait(false);
            }
            catch
            {
                server.Dispose();
                throw;
            }

            if (failure is null)
            {
                return server;
            }

            failures.Add(string.Create(CultureInfo.InvariantCulture, $"attempt {attempt} on port {server.Port}: {failure}"));
            server.Dispose();
        }

        throw new InvalidOperationException(
            string.Create(CultureInfo.InvariantCulture, $"The server did not come up in {failures.Count} attempt(s) within {timeout}:{Environment.NewLine}")
            + string.Join(Environment.NewLine, failures));
    }

    /// <summary>
    /// Waits until this process answers PING, until <paramref name="timeout"/> has passed on <paramref name="elapsed"/>.
    /// Returns null when it answers, else why not: it exited (with its output), another process answers on its port,
    /// or the time ran out.
    /// </summary>
    private async Task<string?> WaitUntilReadyAsync(Stopwatch elapsed, TimeSpan timeout)
    {
        await WaitUntilListeningAsync(elapsed, timeout).ConfigureAwait(false);
        TimeSpan left = timeout - elapsed.Elapsed;
        try
        {
            await RedisServerFixture.WaitForPingAsync(ReadinessConnectionString(), left > TimeSpan.Zero ? left : TimeSpan.Zero, () => IsRunning).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            return IsRunning
                ? ex.Message + " " + OutputTail()
                : ExitDescription();
        }

        long? answering;
        try
        {
            answering = await AnsweringProcessIdAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return IsRunning ? "INFO failed after PING: " + ex.Message + " " + OutputTail() : ExitDescription();
        }

        if (!IsRunning)
        {
            return "PING was answered, but by another server: " + ExitDescription();
        }

        return answering is { } pid && pid != _process!.Id
            ? string.Create(CultureInfo.InvariantCulture, $"PING was answered by process {pid}, not by this server ({_process.Id}); another server holds the port.")
            : null;
    }

    /// <summary>
    /// Waits until the port takes a TCP connection, the process exits, or <paramref name="timeout"/> has passed on
    /// <paramref name="elapsed"/>, whichever comes first; the PING that follows says which.
    /// </summary>
    /// <remarks>
    /// A multiplexer whose first connect is refused (the process has not bound its port yet, a few milliseconds after
    /// it started) connects again only on its next heartbeat, about a second later: every server start paid that
    /// second, and the fault suites, which start a primary and its replica, or a cluster of six, per test, paid it
    /// several times per test. A refused TCP connect costs nothing, so this polls the port first.
    /// </remarks>
    private async Task WaitUntilListeningAsync(Stopwatch elapsed, TimeSpan timeout)
    {
        while (IsRunning && elapsed.Elapsed < timeout)
        {
            using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                using CancellationTokenSource attempt = new(s_listenPollTimeout);
                await socket.ConnectAsync(IPAddress.Loopback, Port, attempt.Token).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException)
            {
                // No answer in time: let the PING wait decide.
                return;
            }

            await Task.Delay(s_listenPollInterval).ConfigureAwait(false);
        }
    }

    private string ReadinessConnectionString()
        => Endpoint + ",allowAdmin=true" + (_password is null ? string.Empty : ",password=" + _password);

    /// <summary>The process id the server on this port reports (<c>INFO server</c>), or null when it reports none (Garnet may not).</summary>
    private async Task<long?> AnsweringProcessIdAsync()
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(ReadinessConnectionString());
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 5000;
        await using ConnectionMultiplexer multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        string info = (await multiplexer.GetServers()[0].ExecuteAsync("INFO", "server").ConfigureAwait(false)).ToString();
        foreach (string line in info.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("process_id:", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan("process_id:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long pid))
            {
                return pid;
            }
        }

        return null;
    }

    private string ExitDescription()
    {
        string code = "unknown";
        if (_process is { HasExited: true } exited)
        {
            // Once it has exited, this returns when its output has been read to the end.
            exited.WaitForExit();
            code = exited.ExitCode.ToString(CultureInfo.InvariantCulture);
        }

        return $"the process exited (code {code}) before it answered PING. {OutputTail()}";
    }

    /// <summary>The last lines of the process's stdout and stderr, and of its <c>redis.log</c>.</summary>
    private string OutputTail()
    {
        string output;
        lock (_outputLock)
        {
            output = string.Join(Environment.NewLine, _outputTail);
        }

        string log = string.Empty;
        try
        {
            string path = Path.Combine(Directory, "redis.log");
            if (File.Exists(path))
            {
                log = string.Join(Environment.NewLine, File.ReadLines(path).TakeLast(LogTailLines));
            }
        }
        catch (IOException ex)
        {
            log = "(could not read redis.log: " + ex.Message + ")";
        }

        return $"Output:{Environment.NewLine}{output}{Environment.NewLine}redis.log:{Environment.NewLine}{log}";
    }
}
