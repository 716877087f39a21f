using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Warns when a Redis primary may evict rate-limit counters: any <c>maxmemory-policy</c> but <c>noeviction</c>. Every
/// counter carries a TTL, so the <c>volatile-*</c> policies can evict them as readily as the <c>allkeys-*</c> ones; a
/// party whose counter is evicted starts again from zero within the window. With <c>noeviction</c>, a full Redis
/// refuses writes instead, which the circuit breaker sees and the failure mode handles.
/// </summary>
/// <remarks>
/// The policy is read with <c>INFO memory</c> (run from a script, see <see cref="InfoScript"/>), which managed services
/// (ElastiCache, Azure Cache) allow where they rename or block <c>CONFIG</c>. The check runs in the background at startup and again, at most once a minute, when the
/// health check asks; nothing waits on it.
/// </remarks>
internal sealed partial class RedisEvictionPolicyCheck : IStoreConfigurationCheck
{
    internal const string SafePolicy = "noeviction";

    /// <summary>
    /// <c>INFO memory</c> from a script: StackExchange.Redis allows <c>INFO</c> itself only on admin connections, which an
    /// app's connection should not be, while a script may run it on any connection that may run scripts.
    /// </summary>
    private const string InfoScript = "return redis.call('INFO', 'memory')";

    private static readonly TimeSpan s_recheckInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan s_checkTimeout = TimeSpan.FromSeconds(10);

    private readonly RedisConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly long _recheckTimestamps;
    private string[] _warnings = [];
    private string _reported = string.Empty;
    private int _running;
    private long _startedAtTimestamp = long.MinValue / 2;

    public RedisEvictionPolicyCheck(RedisConnection connection, TimeProvider timeProvider, ILogger<RedisEvictionPolicyCheck>? logger = null)
    {
        _connection = connection;
        _timeProvider = timeProvider;
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

    /// <summary>Whether counters survive memory pressure under <paramref name="policy"/>.</summary>
    internal static bool IsSafe(string policy) => string.Equals(policy.Trim(), SafePolicy, StringComparison.OrdinalIgnoreCase);

    /// <summary>Checks every connected primary now; returns the warnings, or <see langword="null"/> when no primary answered.</summary>
    internal async Task<(string Endpoint, string Policy)[]?> CheckAsync()
    {
        IConnectionMultiplexer multiplexer = await BoundedCall.WaitAsync(
            _connection.GetMultiplexerAsync(CancellationToken.None), s_checkTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
        List<(string, string)> unsafePrimaries = [];
        bool anyAnswered = false;
        foreach (IServer server in multiplexer.GetServers())
        {
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            RedisResult info = await BoundedCall.WaitAsync(
                server.ExecuteAsync("EVAL", InfoScript, 0), s_checkTimeout, _timeProvider, CancellationToken.None).ConfigureAwait(false);
            string? policy = FindPolicy((string?)info);
            if (policy is null)
            {
                continue;
            }

            anyAnswered = true;
            if (!IsSafe(policy))
            {
                unsafePrimaries.Add((Format(server.EndPoint), policy));
            }
        }

        return anyAnswered ? [.. unsafePrimaries] : null;
    }

    /// <summary>The value of <c>maxmemory_policy</c> in an <c>INFO</c> reply, or <see langword="null"/> when absent.</summary>
    internal static string? FindPolicy(string? info)
    {
        foreach (string line in (info ?? string.Empty).Split('\n'))
        {
            const string Field = "maxmemory_policy:";
            if (line.StartsWith(Field, StringComparison.Ordinal))
            {
                return line[Field.Length..].Trim();
            }
        }

        return null;
    }

    private static string Describe(string endpoint, string policy)
        => string.Create(
            CultureInfo.InvariantCulture,
            $"Redis at {endpoint} has maxmemory-policy {policy}: under memory pressure it can evict rate-limit counters, and a party whose counter is evicted starts again from zero within the window. Set maxmemory-policy {SafePolicy}.");

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
            (string Endpoint, string Policy)[]? unsafePrimaries = await CheckAsync().ConfigureAwait(false);
            if (unsafePrimaries is null)
            {
                // No primary answered: keep what was known and look again at the next refresh.
                Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
                return;
            }

            string[] warnings = [.. unsafePrimaries.Select(p => Describe(p.Endpoint, p.Policy))];
            Volatile.Write(ref _warnings, warnings);

            // Logged when found and when it changes, not at every health check.
            string reported = string.Join('\n', warnings);
            if (!string.Equals(reported, _reported, StringComparison.Ordinal))
            {
                foreach ((string endpoint, string policy) in unsafePrimaries)
                {
                    LogUnsafePolicy(_logger, endpoint, policy);
                }

                if (warnings.Length == 0)
                {
                    LogPolicySafe(_logger);
                }
            }

            _reported = reported;
        }
        catch (Exception ex)
        {
            // A dead Redis is the breaker's to report; this check simply runs again at the next refresh.
            Volatile.Write(ref _startedAtTimestamp, long.MinValue / 2);
            LogCheckFailed(_logger, ex);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    [LoggerMessage(EventId = 1010, EventName = "RedisEvictionPolicyUnsafe", Level = LogLevel.Warning,
        Message = "Redis at {Endpoint} has maxmemory-policy {Policy}: under memory pressure it can evict EmailGuard's rate-limit counters, and a party whose counter is evicted starts again from zero within the window. Set maxmemory-policy noeviction (see docs/redis.md).")]
    private static partial void LogUnsafePolicy(ILogger logger, string endpoint, string policy);

    [LoggerMessage(EventId = 1011, EventName = "RedisEvictionPolicySafe", Level = LogLevel.Information,
        Message = "Every Redis primary now has maxmemory-policy noeviction.")]
    private static partial void LogPolicySafe(ILogger logger);

    [LoggerMessage(EventId = 1012, EventName = "RedisConfigurationCheckFailed", Level = LogLevel.Debug,
        Message = "Could not read Redis's maxmemory-policy; the check runs again at the next health check.")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
