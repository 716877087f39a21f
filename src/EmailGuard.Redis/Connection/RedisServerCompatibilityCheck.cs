using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Finds out which server the store talks to (<c>INFO server</c>: Redis, Garnet, Valkey) and whether it can run the
/// store's scripts as they must run: Lua enabled, Redis 7 or later (the scripts call <c>PEXPIRETIME</c>), and on
/// Garnet, scripts that run as transactions (<c>--lua-transaction-mode</c>), without which another client's write can
/// land in the middle of a script and limits are exceeded.
/// </summary>
/// <remarks>
/// <para>
/// On a server that cannot run the scripts (Lua disabled, Redis older than 7) every store call fails, so the circuit
/// opens, the failure mode answers and the health check fails; this check logs an error and adds to the health
/// check's warnings a message that names the missing flag or version. Garnet does not report whether it runs with
/// <c>--lua-transaction-mode</c>; unless <see cref="RedisRateLimitStoreOptions.GarnetLuaTransactionMode"/> says it
/// does, the health check reports degraded with a warning that names the flag.
/// </para>
/// <para>
/// <c>INFO</c> is read through <see cref="RedisPrimaryInfoReader"/>, from a script, so no admin connection is needed;
/// that also makes a server without Lua answer with its own "Lua disabled" error. The check runs on the schedule of
/// <see cref="RedisPeriodicCheck"/>.
/// </para>
/// </remarks>
internal sealed partial class RedisServerCompatibilityCheck : RedisPeriodicCheck
{
    private readonly RedisPrimaryInfoReader _reader;
    private readonly bool _garnetTransactionModeDeclared;
    private readonly ILogger _logger;

    public RedisServerCompatibilityCheck(
        RedisConnection connection,
        RedisRateLimitStoreOptions options,
        TimeProvider timeProvider,
        ILogger<RedisServerCompatibilityCheck>? logger = null,
        RedisPrimaryInfoReader? reader = null)
        : base(timeProvider)
    {
        _reader = reader ?? new RedisPrimaryInfoReader(connection, timeProvider);
        _garnetTransactionModeDeclared = options.GarnetLuaTransactionMode;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Asks every connected primary now. Returns the servers found, the problems that stop the scripts from running, and the warnings; <see langword="null"/> when no primary answered.
    /// </summary>
    internal async Task<(List<RedisServerInfo> Servers, List<string> Fatal, List<string> Warnings)?> CheckAsync()
    {
        IReadOnlyList<RedisPrimaryInfo> primaries = await _reader.ReadAsync().ConfigureAwait(false);
        List<RedisServerInfo> servers = [];
        List<string> fatal = [];
        List<string> warnings = [];
        foreach (RedisPrimaryInfo primary in primaries)
        {
            if (primary.Refusal is { } refusal)
            {
                fatal.Add(DescribeNoScripts(primary.Endpoint, refusal));
                continue;
            }

            RedisServerInfo found = RedisServerInfo.Parse(primary.Endpoint, primary.Info);
            servers.Add(found);
            Evaluate(found, fatal, warnings, _garnetTransactionModeDeclared);
        }

        return primaries.Count > 0 ? (servers, fatal, warnings) : null;
    }

    /// <summary>Adds what <paramref name="server"/> lacks to <paramref name="fatal"/> or <paramref name="warnings"/>.</summary>
    internal static void Evaluate(RedisServerInfo server, List<string> fatal, List<string> warnings, bool garnetTransactionModeDeclared)
    {
        if (server.IsGarnet)
        {
            if (!garnetTransactionModeDeclared)
            {
                warnings.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Garnet {server.Version} at {server.Endpoint} cannot report whether it runs with --lua-transaction-mode: without that flag another client's write can land in the middle of a script and limits can be exceeded. Start Garnet with --lua --lua-transaction-mode, then set EmailGuard:Redis:GarnetLuaTransactionMode to true."));
            }

            return;
        }

        int major = server.RedisMajorVersion;
        if (major < 0)
        {
            warnings.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"The server at {server.Endpoint} ({server.Name}) did not report a redis_version; EmailGuard needs the commands of Redis 7 or later."));
        }
        else if (major < 7)
        {
            fatal.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"The server at {server.Endpoint} is {server.Name} {server.Version} (redis_version {server.RedisVersion}); EmailGuard's scripts need Redis 7 or later (PEXPIRETIME). Upgrade to Redis 7 or later."));
        }
    }

    private static string DescribeNoScripts(string endpoint, string refusal)
        => refusal.Contains("Lua", StringComparison.OrdinalIgnoreCase)
            ? string.Create(
                CultureInfo.InvariantCulture,
                $"The server at {endpoint} has Lua scripting disabled ({refusal}), and EmailGuard's limits are Lua scripts. On Garnet, start it with --lua --lua-transaction-mode.")
            : string.Create(
                CultureInfo.InvariantCulture,
                $"The server at {endpoint} refused a Lua script ({refusal}), and EmailGuard's limits are Lua scripts. Allow EVAL and EVALSHA (on Garnet: start it with --lua --lua-transaction-mode).");

    protected override async Task<string[]?> RunOnceAsync()
    {
        (List<RedisServerInfo> Servers, List<string> Fatal, List<string> Warnings)? result = await CheckAsync().ConfigureAwait(false);
        if (result is not { } found)
        {
            return null;
        }

        string[] warnings = [.. found.Fatal, .. found.Warnings];

        string reported = string.Join('\n', found.Servers.Select(s => s.ToString()).Concat(warnings));
        LogWhenChanged(reported, () =>
        {
            foreach (RedisServerInfo server in found.Servers)
            {
                string shownName = LogValue.Of(server.Name), shownVersion = LogValue.Of(server.Version), shownRedisVersion = LogValue.Of(server.RedisVersion);
                LogServerFound(_logger, shownName, shownVersion, shownRedisVersion, server.Endpoint);
            }

            foreach (string problem in found.Fatal)
            {
                LogServerRefused(_logger, LogValue.Of(problem));
            }

            foreach (string warning in found.Warnings)
            {
                LogServerWarning(_logger, LogValue.Of(warning));
            }
        });

        return warnings;
    }

    protected override void OnFailed(Exception exception)
    {
        Exception shown = LogValue.Of(exception);
        LogCheckFailed(_logger, shown);
    }

    [LoggerMessage(EventId = 1350, EventName = "RedisServerFound", Level = LogLevel.Information,
        Message = "EmailGuard's Redis store talks to {Server} {Version} (redis_version {RedisVersion}) at {Endpoint}.")]
    private static partial void LogServerFound(ILogger logger, string server, string version, string redisVersion, string endpoint);

    [LoggerMessage(EventId = 1351, EventName = "RedisServerNotSupported", Level = LogLevel.Error,
        Message = "{Problem} Until then the store's calls fail and each policy's failure mode answers.")]
    private static partial void LogServerRefused(ILogger logger, string problem);

    [LoggerMessage(EventId = 1352, EventName = "RedisServerWarning", Level = LogLevel.Warning,
        Message = "{Warning}")]
    private static partial void LogServerWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 1353, EventName = "RedisServerCheckFailed", Level = LogLevel.Debug,
        Message = "Could not ask the Redis server which server and version it is; the check runs again at the next health check.")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
