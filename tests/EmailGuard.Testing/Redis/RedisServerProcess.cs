using System.Diagnostics;
using System.Globalization;

namespace EmailGuard.Testing.Redis;

/// <summary>
/// One <c>redis-server</c> (or Garnet, see <see cref="StartGarnet"/>) child process on 127.0.0.1, without
/// persistence, in its own temp directory. It can be killed and started again on the same port, for failure tests.
/// </summary>
internal sealed class RedisServerProcess : IDisposable
{
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(10);

    private readonly string _binary;
    private readonly string[] _extraArguments;
    private readonly string? _garnetServerDll;
    private Process? _process;

    private RedisServerProcess(string binary, int port, string directory, string[] extraArguments, string? garnetServerDll = null)
    {
        _binary = binary;
        Port = port;
        Directory = directory;
        _extraArguments = extraArguments;
        _garnetServerDll = garnetServerDll;
    }

    public int Port { get; }

    /// <summary>The working directory: logs and, for cluster nodes, the cluster config file live here.</summary>
    public string Directory { get; }

    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public bool IsRunning => _process is { HasExited: false };

    public static RedisServerProcess Start(string binary, int port, string[] extraArguments)
    {
        string directory = Path.Combine(Path.GetTempPath(), "emailguard-redis-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        RedisServerProcess server = new(binary, port, directory, extraArguments);
        server.Restart();
        return server;
    }

    /// <summary>Starts Garnet (<c>dotnet GarnetServer.dll</c>, from the local dotnet tool) with <paramref name="extraArguments"/>.</summary>
    public static RedisServerProcess StartGarnet(string dotnet, string garnetServerDll, int port, string[] extraArguments)
    {
        string directory = Path.Combine(Path.GetTempPath(), "emailguard-garnet-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        RedisServerProcess server = new(dotnet, port, directory, extraArguments, garnetServerDll);
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
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Freezes the server (<c>SIGSTOP</c>): connections stay open and nothing answers, as a hung Redis.</summary>
    public void Pause() => Signal("STOP");

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
