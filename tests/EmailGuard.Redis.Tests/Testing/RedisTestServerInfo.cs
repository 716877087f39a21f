using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace EmailGuard.Redis.Tests.Testing;

/// <summary>What the fault tests read from a real server's <c>INFO</c>, and how they wait for it to change.</summary>
internal static class RedisTestServerInfo
{
    /// <summary>One section of the server's <c>INFO</c>, as text.</summary>
    public static async Task<string> InfoAsync(IServer server, string section = "replication") => (await server.ExecuteAsync("INFO", section)).ToString();

    /// <summary>How many times the server ran a command, from an <c>INFO commandstats</c> text; 0 when never.</summary>
    public static long CommandCalls(string commandStats, string command)
    {
        string? line = commandStats.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith($"cmdstat_{command}:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(line.IndexOf("calls=", StringComparison.Ordinal) + 6)..].Split(',')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>How many times the server ran a command (<c>INFO commandstats</c>).</summary>
    public static async Task<long> CommandCallsAsync(IServer server, string command) => CommandCalls(await InfoAsync(server, "commandstats"), command);

    /// <summary>A replication offset field of an <c>INFO replication</c> text; -1 when absent.</summary>
    public static long Offset(string info, string field)
    {
        string? line = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line[field.Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the replica has every write the primary has taken (and the primary has taken some).</summary>
    public static async Task<bool> CaughtUpAsync(IServer primary, IServer replica)
    {
        long primaryOffset = Offset(await InfoAsync(primary), "master_repl_offset:");
        long replicaOffset = Offset(await InfoAsync(replica), "slave_repl_offset:");
        return primaryOffset > 0 && replicaOffset >= primaryOffset;
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="poll"/> until it holds (true) or <paramref name="bound"/> passed (false).</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan bound, TimeSpan poll)
    {
        long started = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(started) < bound)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(poll, TimeProvider.System);
        }

        return false;
    }
}
