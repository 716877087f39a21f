using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// Caches the <see cref="ITenantLimitProvider"/>'s answers for a short lifetime, and never lets a check wait on the
/// provider longer than <see cref="StoreResilienceOptions.Timeout"/>.
/// </summary>
/// <remarks>
/// Concurrent checks for one tenant share one lookup, so N checks cause at most one query per lifetime. Once an answer
/// expires, checks keep using it while the next lookup runs in the background, but only for one more lifetime (the
/// grace): an answer whose lookup began more than two lifetimes ago is too old to apply unconfirmed, so that an idle
/// instance does not apply a cap the operator cut hours ago to one more check. A check with no answer at hand, or
/// only one that old, waits for the lookup at most the timeout and then uses the default tenant rules; the lookup goes
/// on and serves later checks. A failing provider keeps the last answer (the defaults when there is none) for one
/// lifetime, so a down database is not hammered, and is logged. After an invalidation the last answer is no longer
/// trusted alone: until the provider answers, the timeout's and the failure's fallback is the stricter of it and the
/// defaults, and the fair-share weight is at most the default.
/// <para>
/// At most <c>maxTenants</c> answers are kept. When the cache is full, answers past their lifetime make room (at most
/// one sweep per lifetime); when every answer is still fresh, a new tenant is looked up without being cached. A flood
/// of made-up tenant ids therefore never empties the cache: the tenants in use keep their answers, and their checks
/// never fall back to the default limits because of someone else's flood.
/// </para>
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The lookup semaphore's wait handle is never asked for, so it holds nothing to release; the cache lives as long as the guard.")]
internal sealed partial class TenantLimitCache
{
    /// <summary>The most tenants whose answers are kept.</summary>
    internal const int DefaultMaxTenants = 100_000;

    /// <summary>The most provider lookups running at once when the options do not say.</summary>
    internal const int DefaultLookupConcurrency = 16;

    private readonly int _maxTenants;

    private readonly ITenantLimitProvider? _provider;
    private readonly TimeProvider _timeProvider;
    private readonly long _lifetimeTicks;

    // How long past its expiry an answer still serves while the next lookup runs: one more lifetime.
    private readonly long _graceTicks;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;

    // The configured default fair-share weight: what an invalidated tenant's weight is capped by until the provider
    // answers. Its rules are capped by the default rules each check passes (TenantLimitAnswer.CappedByDefaults), which
    // follow a reload of the send guard's caps.
    private readonly double _defaultWeight;

    // The lookups running at once on this instance (EmailGuard:SendGuard:TenantLimitLookupConcurrency): after an
    // invalidation of every tenant, every active tenant's next check starts one.
    private readonly SemaphoreSlim _lookupSlots;

    /// <summary>Whether the code running is a provider's lookup (<see cref="FillAsync"/>), on any cache.</summary>
    private static readonly AsyncLocal<bool> s_inLookup = new();
    private readonly int _lookupConcurrency;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // The last answer of every tenant the provider answered for, read for its fair-share weight (NaN: it gave no weight)
    // by those that do not look the tenant's rules up; written before the lookup completes, so a completed
    // lookup's answer is here. Each answer is its own object, so a sweep removes only the one it saw, never one a newer
    // lookup wrote.
    private readonly ConcurrentDictionary<string, TenantLimitAnswer> _answers = new(StringComparer.Ordinal);

    // When the full cache was last swept for expired answers (UTC ticks).
    private long _lastSweepTicks;

    public TenantLimitCache(
        ITenantLimitProvider? provider,
        TimeSpan lifetime,
        TimeProvider timeProvider,
        ILogger? logger = null,
        TimeSpan? timeout = null,
        int maxTenants = DefaultMaxTenants,
        double defaultWeight = 1,
        int lookupConcurrency = DefaultLookupConcurrency)
    {
        _maxTenants = maxTenants;
        _defaultWeight = defaultWeight;
        _lookupConcurrency = lookupConcurrency;
        _lookupSlots = new SemaphoreSlim(lookupConcurrency, lookupConcurrency);
        _provider = provider;
        _timeProvider = timeProvider;
        _lifetimeTicks = lifetime.Ticks;
        _graceTicks = lifetime.Ticks;
        _timeout = timeout ?? new StoreResilienceOptions().Timeout;
        _logger = logger ?? NullLogger.Instance;
    }

    public bool HasProvider => _provider is not null;

    /// <summary>Test seam: runs after a sweep removed a tenant's entry and before it removes the tenant's weight.</summary>
    internal Action<string>? EntrySwept { get; set; }

    public ValueTask<RateLimitRule[]> GetAsync(string tenantId, RateLimitRule[] defaults, CancellationToken cancellationToken)
        => GetAsync(tenantId, defaults, null, cancellationToken);

    /// <summary>The tenant's rules, as <see cref="GetAnswerAsync"/> gives them.</summary>
    public ValueTask<RateLimitRule[]> GetAsync(string tenantId, RateLimitRule[] defaults, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        ValueTask<TenantLimitAnswer> pending = GetAnswerAsync(tenantId, defaults, budget, cancellationToken);
        return pending.IsCompletedSuccessfully ? new(pending.Result.RulesOr(defaults)) : RulesAsync(pending, defaults);
    }

    /// <summary>
    /// The tenant's rules and pool, from one answer; a check with no answer at hand waits for the lookup at most the
    /// timeout, then goes on with <paramref name="defaults"/>. The provider is the app's call, not a store: its wait is
    /// left out of the check's store time <paramref name="budget"/>, so a slow provider does not leave the counters after
    /// it no time, which would answer the check by the store failure mode although the store is up. A check waits for
    /// the provider one timeout at most: a later lookup of the same check after one that ran out goes on at once.
    /// </summary>
    public ValueTask<TenantLimitAnswer> GetAnswerAsync(string tenantId, RateLimitRule[] defaults, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        if (_provider is null)
        {
            return new(TenantLimitAnswer.Defaults);
        }

        long now = _timeProvider.GetUtcNow().UtcTicks;
        Task<TenantLimitAnswer> rules;
        TenantLimitAnswer? serving;

        // The last answer, applied alone only while it serves; otherwise the fallback of a lookup that outlasts the timeout.
        TenantLimitAnswer? last;
        bool invalidated;
        if (_entries.TryGetValue(tenantId, out Entry? entry) && entry.ExpiresAtTicks > now)
        {
            rules = entry.Rules;
            serving = entry.PreviousServesUntilTicks > now ? entry.Previous : null;
            last = entry.Previous;
            invalidated = entry.PreviousInvalidated;
        }
        else
        {
            last = null;
            long lastServesUntil = long.MinValue;
            invalidated = false;
            if (entry is not null && entry.Rules.IsCompletedSuccessfully)
            {
                last = entry.Rules.Result;
                lastServesUntil = entry.ExpiresAtTicks + _graceTicks;
                invalidated = entry.Invalidated;
            }
            else if (entry is not null)
            {
                // Its lookup never came back: the answer before it, with the age it already had.
                last = entry.Previous;
                lastServesUntil = entry.PreviousServesUntilTicks;
                invalidated = entry.Invalidated || entry.PreviousInvalidated;
            }

            rules = Load(tenantId, entry, now, last, lastServesUntil, invalidated);
            serving = lastServesUntil > now ? last : null;
        }

        if (rules.IsCompletedSuccessfully)
        {
            return new(rules.Result);
        }

        return serving is not null
            ? new(serving)
            : new(WaitAsync(tenantId, rules, defaults, last, invalidated, budget, cancellationToken));
    }

    private static async ValueTask<RateLimitRule[]> RulesAsync(ValueTask<TenantLimitAnswer> pending, RateLimitRule[] defaults)
        => (await pending.ConfigureAwait(false)).RulesOr(defaults);

    /// <summary>
    /// The tenant's <see cref="TenantLimits.FairShareWeight"/> from the provider's last answer: false when the provider
    /// has not answered for it yet; a null weight when it gave none (or an invalid one).
    /// </summary>
    public bool TryGetWeight(string tenantId, out double? weight)
    {
        if (_answers.TryGetValue(tenantId, out TenantLimitAnswer? answer))
        {
            weight = double.IsNaN(answer.Weight) ? null : answer.Weight;
            return true;
        }

        weight = null;
        return false;
    }

    /// <param name="tenantId">The tenant.</param>
    /// <param name="rules">The lookup.</param>
    /// <param name="defaults">The caller's default rules.</param>
    /// <param name="last">
    /// The tenant's last answer, not applied alone (invalidated, or too old to serve unconfirmed), or null when there is
    /// none: the timeout's fallback is the stricter of it and the defaults, never laxer than either, so a tenant cut
    /// below the defaults is not loosened to them because the provider is slow.
    /// </param>
    /// <param name="invalidated">Whether <paramref name="last"/> was invalidated (logged as such).</param>
    /// <param name="budget">The check's store time budget.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    private async Task<TenantLimitAnswer> WaitAsync(
        string tenantId,
        Task<TenantLimitAnswer> rules,
        RateLimitRule[] defaults,
        TenantLimitAnswer? last,
        bool invalidated,
        StoreTimeBudget? budget,
        CancellationToken cancellationToken)
    {
        long waiting = _timeProvider.GetTimestamp();
        try
        {
            // One wait of a whole timeout per check: a lookup the check already gave up on is not waited for again.
            return await rules.WaitAsync(budget is { TenantLimitProviderSlow: true } ? TimeSpan.Zero : _timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            bool logged = budget is { TenantLimitProviderSlow: true };
            budget?.TenantLimitProviderSlow = true;
            if (last is null)
            {
                if (!logged)
                {
                    LogProviderSlow(_logger, LogValue.Of(tenantId), _timeout);
                }

                return TenantLimitAnswer.Defaults;
            }

            if (!logged && invalidated)
            {
                LogInvalidatedFallback(_logger, LogValue.Of(tenantId), "did not answer within " + _timeout.ToString(), null);
            }
            else if (!logged)
            {
                LogProviderSlowLastAnswerTooOld(_logger, LogValue.Of(tenantId), _timeout);
            }

            return last.WithRules(TenantLimitAnswer.Stricter(last.RulesOr(defaults), defaults));
        }
        finally
        {
            budget?.Exclude(waiting);
        }
    }

    /// <param name="tenantId">The tenant.</param>
    /// <param name="stale">The entry this lookup replaces, if any.</param>
    /// <param name="now">The time, in UTC ticks.</param>
    /// <param name="last">The last answer, the fallback of a failure.</param>
    /// <param name="lastServesUntil">Until when <paramref name="last"/> serves while the lookup runs.</param>
    /// <param name="invalidated">Whether <paramref name="last"/> was invalidated: the fallback is then the stricter of it and the defaults.</param>
    private Task<TenantLimitAnswer> Load(string tenantId, Entry? stale, long now, TenantLimitAnswer? last, long lastServesUntil, bool invalidated)
    {
        TaskCompletionSource<TenantLimitAnswer> loading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Entry mine = new(loading.Task, now + _lifetimeTicks, last, lastServesUntil, invalidated && last is not null);
        TenantLimitAnswer fallback = last is null ? TenantLimitAnswer.Defaults : invalidated ? last.CappedByTheDefaults() : last;
        while (true)
        {
            if (stale is null && IsFull(now))
            {
                // Full of answers still in use: look this tenant up without caching it, rather than forget those.
                _ = FillAsync(tenantId, fallback, invalidated, loading, cached: false);
                return loading.Task;
            }

            bool won = stale is null ? _entries.TryAdd(tenantId, mine) : _entries.TryUpdate(tenantId, mine, stale);
            if (won)
            {
                _ = FillAsync(tenantId, fallback, invalidated, loading, cached: true);
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

    /// <summary>
    /// Whether no tenant can be added: the cache holds <c>maxTenants</c> answers even after those past their lifetime
    /// were dropped. One caller sweeps at most once per lifetime; the others see the cache as it is.
    /// </summary>
    private bool IsFull(long now)
    {
        if (_entries.Count < _maxTenants)
        {
            return false;
        }

        long lastSweep = Volatile.Read(ref _lastSweepTicks);
        if (now - lastSweep >= _lifetimeTicks && Interlocked.CompareExchange(ref _lastSweepTicks, now, lastSweep) == lastSweep)
        {
            foreach (KeyValuePair<string, Entry> pair in _entries)
            {
                if (pair.Value.ExpiresAtTicks > now || !pair.Value.Rules.IsCompleted)
                {
                    continue;
                }

                // The weight read before the entry goes: once it has gone, a check can start a new lookup of the tenant,
                // whose weight (a new object) the removal below must leave alone.
                _answers.TryGetValue(pair.Key, out TenantLimitAnswer? weight);
                if (_entries.TryRemove(pair))
                {
                    EntrySwept?.Invoke(pair.Key);
                    if (weight is not null)
                    {
                        _answers.TryRemove(new KeyValuePair<string, TenantLimitAnswer>(pair.Key, weight));
                    }
                }
            }
        }

        return _entries.Count >= _maxTenants;
    }

    /// <param name="Rules">The lookup; complete once the provider answered (or failed).</param>
    /// <param name="ExpiresAtTicks">When the answer is to be looked up again.</param>
    /// <param name="Previous">
    /// The answer before this lookup, served while it runs (until <paramref name="PreviousServesUntilTicks"/>), and kept
    /// if it fails.
    /// </param>
    /// <param name="PreviousServesUntilTicks">When <paramref name="Previous"/> becomes too old to serve without waiting for this lookup.</param>
    /// <param name="PreviousInvalidated">
    /// Whether <paramref name="Previous"/> was invalidated: while the lookup runs, or if it fails, the stricter of it and
    /// the defaults applies, not it.
    /// </param>
    /// <param name="Invalidated">Whether this entry's answer was invalidated (it then expired before any time there is).</param>
    private sealed record Entry(
        Task<TenantLimitAnswer> Rules, long ExpiresAtTicks, TenantLimitAnswer? Previous, long PreviousServesUntilTicks, bool PreviousInvalidated = false, bool Invalidated = false);
}
