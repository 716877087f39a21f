using System.Globalization;
using System.Net;
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
/// <c>INFO</c> is sent from a script, as in <see cref="RedisEvictionPolicyCheck"/>, so no admin connection is needed;
/// that also makes a server without Lua answer with its own "Lua disabled" error. The check runs in the background at
/// startup and again, at most once a minute, when the health check asks.
/// </para>
/// </remarks>
internal sealed partial class RedisServerCompatibilityCheck : IStoreConfigurationCheck
{
    private const string InfoScript = "return redis.call('INFO', 'server')";

    private static readonly TimeSpan s_recheckInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_checkTimeout = TimeSpan.FromSeconds(10);

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly bool _garnetTransactionModeDeclared;
    private readonly ILogger _logger;
    private readonly long _recheckTimestamps;
    private string[] _warnings = [];
    private string _reported = string.Empty;
    private int _running;
    private long _startedAtTimestamp = long.MinValue / 2;

    public RedisServerCompatibilityCheck(
        RedisConnection connection, RedisRateLimitStoreOptions options, TimeProvider timeProvider, ILogger<RedisServerCompatibilityCheck>? logger = null)
    {
        _connection = connection;
        _timeProvider = timeProvider;
        _garnetTransactionModeDeclared = options.GarnetLuaTransactionMode;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _recheckTimestamps = (long)(s_recheckInterval.TotalSeconds * timeProvider.TimestampFrequency);
    }

    public IReadOnlyList<string> Warnings => Volatile.Read(ref _warnings);

    /// <summary>The running check, for tests; completed when none runs.</summary>
    internal Task Current { get; private set; } = Task.CompletedTask;

    public void Refresh()
    {
        long now = _timeProvider.GetTimestamp();
        if (now - Volatile.Read(ref _startedAtTimestamp) < _recheckTimestamps || Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        Volatile.Write(ref _startedAtTimestamp, now);
        Current = RunAsync();
    }

    /// <summary>
    /// Asks every connected primary now. Returns the servers found, the problems that stop the scripts from running, and the warnings; <see langword="null"/> when no primary answered.
    /// </summary>
    internal async Task<(List<RedisServerInfo> Servers, List<string> Fatal, List<string> Warnings)?> CheckAsync()
    {
        IConnectionMultiplexer multiplexer = await BoundedCall.WaitAsync(
            _connection.GetMultiplexerAsync(CancellationToken.None), s_checkTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
        List<RedisServerInfo> servers = [];
        List<string> fatal = [];
        List<string> warnings = [];
        bool anyAnswered = false;
        foreach (IServer server in multiplexer.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            string endpoint = Format(server.EndPoint);
            RedisResult info;
            try
            {
                info = await BoundedCall.WaitAsync(
                    server.ExecuteAsync("EVAL", InfoScript, 0), s_checkTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
            }
            catch (RedisServerException ex)
            {
                anyAnswered = true;
                fatal.Add(DescribeNoScripts(endpoint, ex.Message));
                continue;
            }

            anyAnswered = true;
            RedisServerInfo found = RedisServerInfo.Parse(endpoint, (string?)info);
            servers.Add(found);
            Evaluate(found, fatal, warnings, _garnetTransactionModeDeclared);
        }

        return anyAnswered ? (servers, fatal, warnings) : null;
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

    private static string Format(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => ip.ToString(),
        DnsEndPoint dns => string.Create(CultureInfo.InvariantCulture, $"{dns.Host}:{dns.Port}"),
        _ => endPoint.ToString() ?? "?",
    };

    private async Task RunAsync()
    {
        try
        {
            (List<RedisServerInfo> Servers, List<string> Fatal, List<string> Warnings)? result = await CheckAsync().ConfigureAwait(false);
            if (result is not { } found)
            {
                // No primary answered: keep what was known and look again at the next refresh.
                Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
                return;
            }

            string[] warnings = [.. found.Fatal, .. found.Warnings];
            Volatile.Write(ref _warnings, warnings);

            // Logged when found and when it changes, not at every health check.
            string reported = string.Join('\n', found.Servers.Select(s => s.ToString()).Concat(warnings));
            if (!string.Equals(reported, _reported, StringComparison.Ordinal))
            {
                foreach (RedisServerInfo server in found.Servers)
                {
                    LogServerFound(_logger, server.Name, server.Version, server.RedisVersion, server.Endpoint);
                }

                foreach (string problem in found.Fatal)
                {
                    LogServerRefused(_logger, problem);
                }

                foreach (string warning in found.Warnings)
                {
                    LogServerWarning(_logger, warning);
                }
            }

            _reported = reported;
        }
        catch (Exception ex)
        {
            // A dead server is the breaker's to report; this check simply runs again at the next refresh.
            Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
            LogCheckFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
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
