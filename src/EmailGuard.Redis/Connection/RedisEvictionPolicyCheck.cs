using System.Globalization;
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
/// The policy is read with <c>INFO memory</c>, through <see cref="RedisPrimaryInfoReader"/>, which managed services
/// (ElastiCache, Azure Cache) allow where they rename or block <c>CONFIG</c>. The check runs on the schedule of
/// <see cref="RedisPeriodicCheck"/>; nothing waits on it.
/// </remarks>
internal sealed partial class RedisEvictionPolicyCheck : RedisPeriodicCheck
{
    internal const string SafePolicy = "noeviction";

    private readonly RedisPrimaryInfoReader _reader;
    private readonly ILogger _logger;

    public RedisEvictionPolicyCheck(
        RedisConnection connection, TimeProvider timeProvider, ILogger<RedisEvictionPolicyCheck>? logger = null, RedisPrimaryInfoReader? reader = null)
        : base(timeProvider)
    {
        _reader = reader ?? new RedisPrimaryInfoReader(connection, timeProvider);
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>Whether counters survive memory pressure under <paramref name="policy"/>.</summary>
    internal static bool IsSafe(string policy) => string.Equals(policy.Trim(), SafePolicy, StringComparison.OrdinalIgnoreCase);

    /// <summary>Checks every connected primary now; returns the unsafe ones, or <see langword="null"/> when no primary answered.</summary>
    internal async Task<(string Endpoint, string Policy)[]?> CheckAsync()
    {
        IReadOnlyList<RedisPrimaryInfo> primaries = await _reader.ReadAsync().ConfigureAwait(false);
        List<(string, string)> unsafePrimaries = [];
        bool anyAnswered = false;
        foreach (RedisPrimaryInfo primary in primaries)
        {
            string? policy = FindPolicy(primary.Info);
            if (policy is null)
            {
                continue;
            }

            anyAnswered = true;
            if (!IsSafe(policy))
            {
                unsafePrimaries.Add((primary.Endpoint, policy));
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

    protected override async Task<string[]?> RunOnceAsync()
    {
        (string Endpoint, string Policy)[]? unsafePrimaries = await CheckAsync().ConfigureAwait(false);
        if (unsafePrimaries is null)
        {
            return null;
        }

        string[] warnings = [.. unsafePrimaries.Select(p => Describe(p.Endpoint, p.Policy))];

        string reported = string.Join('\n', warnings);
        LogWhenChanged(reported, () =>
        {
            foreach ((string endpoint, string policy) in unsafePrimaries)
            {
                LogUnsafePolicy(_logger, endpoint, LogValue.Of(policy));
            }

            if (warnings.Length == 0)
            {
                LogPolicySafe(_logger);
            }
        });

        return warnings;
    }

    protected override void OnFailed(Exception exception)
    {
        Exception shown = LogValue.Of(exception);
        LogCheckFailed(_logger, shown);
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
