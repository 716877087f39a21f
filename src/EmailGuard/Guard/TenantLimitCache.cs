using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// Caches the <see cref="ITenantLimitProvider"/>'s answers for a short lifetime. Concurrent checks for one tenant share
/// one lookup, so N checks cause at most one query per lifetime; a failing provider falls back to the defaults for
/// that lifetime (so a down database is not hammered) and is logged.
/// </summary>
internal sealed partial class TenantLimitCache
{
    private const int MaxTenants = 100_000;

    private readonly ITenantLimitProvider? _provider;
    private readonly TimeProvider _timeProvider;
    private readonly long _lifetimeTicks;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public TenantLimitCache(ITenantLimitProvider? provider, TimeSpan lifetime, TimeProvider timeProvider, ILogger? logger = null)
    {
        _provider = provider;
        _timeProvider = timeProvider;
        _lifetimeTicks = lifetime.Ticks;
        _logger = logger ?? NullLogger.Instance;
    }

    public bool HasProvider => _provider is not null;

    public ValueTask<RateLimitRule[]> GetAsync(string tenantId, RateLimitRule[] defaults, CancellationToken cancellationToken)
    {
        if (_provider is null)
        {
            return new(defaults);
        }

        long now = _timeProvider.GetUtcNow().UtcTicks;
        if (_entries.TryGetValue(tenantId, out Entry? entry) && entry.ExpiresAtTicks > now)
        {
            return entry.Rules.IsCompletedSuccessfully ? new(entry.Rules.Result) : new(entry.Rules.WaitAsync(cancellationToken));
        }

        return new(Load(tenantId, entry, defaults, now).WaitAsync(cancellationToken));
    }

    /// <summary>Forgets a tenant's cached limits, e.g. after the app changed them.</summary>
    public void Invalidate(string tenantId) => _entries.TryRemove(tenantId, out _);

    private Task<RateLimitRule[]> Load(string tenantId, Entry? stale, RateLimitRule[] defaults, long now)
    {
        TaskCompletionSource<RateLimitRule[]> loading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Entry mine = new(loading.Task, now + _lifetimeTicks);
        while (true)
        {
            bool won = stale is null ? TryAddBounded(tenantId, mine) : _entries.TryUpdate(tenantId, mine, stale);
            if (won)
            {
                _ = FillAsync(tenantId, defaults, loading);
                return loading.Task;
            }

            // Another check started the lookup first: share it.
            if (_entries.TryGetValue(tenantId, out Entry? current) && current.ExpiresAtTicks > now)
            {
                return current.Rules;
            }

            stale = current;
        }
    }

    private bool TryAddBounded(string tenantId, Entry entry)
    {
        if (_entries.Count >= MaxTenants)
        {
            _entries.Clear();
        }

        return _entries.TryAdd(tenantId, entry);
    }

    private async Task FillAsync(string tenantId, RateLimitRule[] defaults, TaskCompletionSource<RateLimitRule[]> loading)
    {
        RateLimitRule[] rules = defaults;
        try
        {
            TenantLimits? limits = await _provider!.GetLimitsAsync(tenantId, CancellationToken.None).ConfigureAwait(false);
            if (limits is not null)
            {
                rules = SendGuardRules.Normalize(limits.Rules ?? []);
            }
        }
        catch (Exception ex)
        {
            LogProviderFailure(_logger, tenantId, ex);
            rules = defaults;
        }

        loading.TrySetResult(rules);
    }

    [LoggerMessage(EventId = 420, EventName = "TenantLimitProviderFailure", Level = LogLevel.Warning, Message = "The tenant limit provider failed for tenant {TenantId}; the default tenant limits apply until the cache entry expires.")]
    private static partial void LogProviderFailure(ILogger logger, string tenantId, Exception exception);

    private sealed record Entry(Task<RateLimitRule[]> Rules, long ExpiresAtTicks);
}
