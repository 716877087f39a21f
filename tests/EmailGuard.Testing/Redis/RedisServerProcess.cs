using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// One <c>redis-server</c> (or Garnet, see <see cref="StartGarnetAsync"/>) child process on 127.0.0.1, without
/// persistence, in its own temp directory. It can be killed and started again on the same port, for failure tests.
/// </summary>
/// <remarks>Started only through <see cref="StartAsync"/> and <see cref="StartGarnetAsync"/>, which wait until it answers.</remarks>
internal sealed partial class RedisServerProcess : IDisposable
{
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How many lines of the process's own output (stdout and stderr) a start failure quotes.</summary>
    private const int OutputTailLines = 20;

    private readonly string _binary;
    private readonly string[] _extraArguments;
    private readonly string? _garnetServerDll;
    private readonly string? _password;
    private readonly Queue<string> _outputTail = new();
    private readonly Lock _outputLock = new();
    private Process? _process;

    private RedisServerProcess(string binary, int port, string directory, string[] extraArguments, string? password, string? garnetServerDll = null)
    {
        _binary = binary;
        Port = port;
        Directory = directory;
        _extraArguments = extraArguments;
        _password = password;
        _garnetServerDll = garnetServerDll;
    }

    public int Port { get; }

    /// <summary>The working directory: logs and, for cluster nodes, the cluster config file live here.</summary>
    public string Directory { get; }

    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public bool IsRunning => _process is { HasExited: false };

    private static RedisServerProcess Launch(string binary, int port, string[] extraArguments, string? password)
    {
        string directory = Path.Combine(Path.GetTempPath(), "emailguard-redis-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        RedisServerProcess server = new(binary, port, directory, password is null ? extraArguments : [.. extraArguments, "--requirepass", password], password);
        server.Restart();
        return server;
    }

    private static RedisServerProcess LaunchGarnet(string dotnet, string garnetServerDll, int port, string[] extraArguments)
    {
        string directory = Path.Combine(Path.GetTempPath(), "emailguard-garnet-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        RedisServerProcess server = new(dotnet, port, directory, extraArguments, password: null, garnetServerDll);
        server.Restart();
        return server;
    }

    private void Signal(string signal)
    {
        Process process = _process ?? throw new InvalidOperationException("The server is not running.");
        using Process kill = Process.Start("kill", ["-" + signal, process.Id.ToString(CultureInfo.InvariantCulture)])
            ?? throw new InvalidOperationException("Could not run kill.");
        kill.WaitForExit(s_exitTimeout);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {process.Id} exited with {kill.ExitCode}.");
        }
    }

    /// <summary>Starts the killed process again on its port, without waiting; see <see cref="RestartAsync"/>.</summary>
    public void Restart()
    {
        if (IsRunning)
        {
            return;
        }

        ProcessStartInfo info = new(_binary)
        {
            WorkingDirectory = Directory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] arguments = _garnetServerDll is { } garnet
            ? [garnet, "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1"]
            : [
                "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", Directory, "--logfile", "redis.log", "--protected-mode", "yes",
                // A replica's full sync starts at once: Redis 7 waits 5 s by default for more replicas to share a
                // diskless transfer, which the replica and failover tests paid on every (re)sync.
                "--repl-diskless-sync-delay", "0",
            ];
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (string argument in _extraArguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {_binary}.");
        process.OutputDataReceived += (_, e) => KeepOutput(e.Data);
        process.ErrorDataReceived += (_, e) => KeepOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Keeps the last lines the process wrote, for the message of a start that failed.</summary>
    private void KeepOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            _outputTail.Enqueue(line);
            while (_outputTail.Count > OutputTailLines)
            {
                _outputTail.Dequeue();
            }
        }
    }

    /// <summary>
    /// Freezes the server (<c>SIGSTOP</c>): connections stay open and nothing answers, as a hung Redis. Returns once
    /// every thread of the process is stopped: <c>kill</c> returns when the signal is sent, and each thread stops only
    /// when it next notices it, which a loaded machine can delay. Two fresh-clone CI runs saw Garnet (18+ threads)
    /// answer a script 59 and 93 ms after the pause began.
    /// </summary>
    public void Pause()
    {
        Signal("STOP");
        WaitUntilStopped();
    }

    /// <summary>Waits, up to 10 s, until every thread of the process is stopped (state T in /proc); off Linux, returns at once.</summary>
    private void WaitUntilStopped()
    {
        Process process = _process ?? throw new InvalidOperationException("The server is not running.");
        string tasks = $"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/task";
        if (!System.IO.Directory.Exists(tasks))
        {
            return;
        }

        Stopwatch waited = Stopwatch.StartNew();
        SpinWait spin = default;
        while (!AllStopped(tasks))
        {
            if (waited.Elapsed > s_exitTimeout)
            {
                throw new InvalidOperationException($"kill -STOP {process.Id}: not every thread had stopped after {s_exitTimeout}.");
            }

            spin.SpinOnce(sleep1Threshold: 10);
        }
    }

    /// <summary>Whether every thread listed under <paramref name="tasks"/> is stopped; a thread that exits meanwhile counts as stopped.</summary>
    private static bool AllStopped(string tasks)
    {
        foreach (string task in System.IO.Directory.EnumerateDirectories(tasks))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue;
            }

            // The state follows the command name, which is in parentheses and may itself hold spaces or parentheses;
            // a thread that is exiting (Z, X) will not run again either.
            int end = stat.LastIndexOf(')');
            if (end < 0 || end + 2 >= stat.Length || stat[end + 2] is not ('T' or 't' or 'Z' or 'X'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Lets a paused server run again (<c>SIGCONT</c>).</summary>
    public void Resume() => Signal("CONT");

    public void Stop()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(s_exitTimeout);
            }
        }
        finally
        {
            process.Dispose();
        }
    }

    public void Dispose()
    {
        if (IsRunning)
        {
            // A paused server ignores SIGTERM-like shutdowns until resumed; SIGKILL works either way, but resume first so
            // the kernel reaps it at once.
            Resume();
        }

        Stop();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless; never fail a test run over it.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }
}
