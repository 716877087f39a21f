using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The fair-share policy of the send guard (<see cref="FairShareOptions"/>): keeps this instance's view of which
/// tenants are active in each fair-shared global rule's window, and adds each tenant's share to the check's requests,
/// so the share is decided in the same atomic acquire as the global rule itself.
/// </summary>
/// <remarks>
/// <para>
/// Shared state lives in the rate-limit store, so every instance sees it: a per-tenant activity marker (a fixed window
/// of the rule's length with a limit of 1, so a tenant's weight is added once per window whichever instance sees it
/// first), and two window counters of the account: the summed weights of the weighted tenants, and the number of
/// default-weight tenants. Registering a tenant is one acquire of its marker and one of those counters, all or none.
/// </para>
/// <para>
/// An instance reads the counters and the global count at most once per <see cref="FairShareOptions.RefreshInterval"/>
/// (one peek), and after registering a tenant. The check itself stays one store call; a check that finds the view
/// stale, or its tenant not yet registered in this window, first waits for that read or registration.
/// </para>
/// </remarks>
internal sealed partial class FairShareTracker
{
    /// <summary>Weights are counted in thousandths in the store.</summary>
    public const int WeightScale = 1_000;

    private const string KeyPrefix = "send:fs:";
    private const string WeightsKey = KeyPrefix + "w";
    private const string DefaultTenantsKey = KeyPrefix + "n";
    private const string PoolKey = KeyPrefix + "p";
    private const string RosterKey = KeyPrefix + "r";

    private readonly FairShareOptions _options;
    private readonly FairShareBudget[] _budgets;
    private readonly ResilientRateLimitStore _store;
    private readonly TenantLimitCache _tenantLimits;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly long _refreshMilliseconds;
    private readonly IdKeyCache _shareKeys = new(KeyPrefix + "s:");
    private readonly IdKeyCache _activityKeys = new(KeyPrefix + "a:");
    private Task? _refreshing;
    private long _pausedUntilMilliseconds = long.MinValue;

    private FairShareTracker(
        FairShareOptions options, FairShareBudget[] budgets, ResilientRateLimitStore store, TenantLimitCache tenantLimits, TimeProvider timeProvider, ILogger logger)
    {
        _options = options;
        _budgets = budgets;
        _store = store;
        _tenantLimits = tenantLimits;
        _timeProvider = timeProvider;
        _logger = logger;
        _refreshMilliseconds = (long)options.RefreshInterval.TotalMilliseconds;
    }

    /// <summary>The most share requests one check adds: a tenant share and a pool share per budget.</summary>
    public int MaxRequests => _budgets.Length * 2;

    internal IReadOnlyList<FairShareBudget> Budgets => _budgets;

    internal FairShareOptions Options => _options;

    /// <summary>
    /// Gets or sets where the active tenants are listed for the admin's view of the budget; set by the guard when a
    /// key-value store is registered. Without one, tenants are counted but not listed.
    /// </summary>
    internal FairShareRoster? Roster { get; set; }

    /// <summary>The tracker of the options' policy, or null when it is off or no global rule is a window rule.</summary>
    public static FairShareTracker? Create(
        SendGuardOptions options, SendGuardRules rules, ResilientRateLimitStore store, TenantLimitCache tenantLimits, TimeProvider timeProvider, ILogger logger, EmailGuardMetrics? metrics)
    {
        FairShareOptions? policy = options.FairShare;
        if (policy is not { Enabled: true })
        {
            return null;
        }

        FairShareBudget[] budgets = [.. rules.Global.Where(IsShareable).Select(r => new FairShareBudget(r, policy.ContentionThreshold))];
        if (budgets.Length == 0)
        {
            return null;
        }

        FairShareTracker tracker = new(policy, budgets, store, tenantLimits, timeProvider, logger);
        tracker.RegisterInstruments(metrics);
        return tracker;
    }

    /// <summary>Whether a global rule can be shared: a window rule (a token bucket is a rate, not a budget).</summary>
    public static bool IsShareable(RateLimitRule rule) => rule.Algorithm != RateLimitAlgorithm.TokenBucket;

    /// <summary>
    /// Makes sure the tenant's weight is known, the tenant is registered as active in every budget's window (on a
    /// commit), and the view is fresh. Completes synchronously when there is nothing to do; never throws but for
    /// cancellation: a store failure keeps the last view, and is retried after a refresh interval.
    /// </summary>
    /// <param name="tenantId">The check's tenant.</param>
    /// <param name="commit">Whether the check takes permits (registers the tenant), not a peek.</param>
    /// <param name="storeTime">The check's store time budget: each wait gets what is left of it.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public ValueTask PrepareAsync(string tenantId, bool commit, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        if (now < Volatile.Read(ref _pausedUntilMilliseconds))
        {
            return default;
        }

        bool weightUnknown = _tenantLimits.HasProvider && !_tenantLimits.TryGetWeight(tenantId, out _);
        bool register = false;
        bool refresh = false;
        foreach (FairShareBudget budget in _budgets)
        {
            long index = budget.WindowIndex(now);
            register |= commit && !budget.IsRegistered(tenantId, index);
            refresh |= budget.View is not { } view || view.WindowIndex != index || now - view.ReadAtMilliseconds >= _refreshMilliseconds;
        }

        return weightUnknown || register || refresh ? PrepareSlowAsync(tenantId, now, weightUnknown, register, storeTime, cancellationToken) : default;
    }

    /// <summary>Adds the tenant's share requests (global dimension, the tenant as partition) for every contended budget.</summary>
    public void AddShares(RateLimitRequest[] requests, RequestTag[] tags, ref int count, string tenantId, long cost)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        double? weight = WeightOf(tenantId);
        RequestTag tag = new(EmailGuardDimension.Global, tenantId, null);
        foreach (FairShareBudget budget in _budgets)
        {
            if (!budget.TryGetShares(now, weight, _options, out long share, out long pool))
            {
                continue;
            }

            if (budget.TryMarkContended(budget.WindowIndex(now)) && budget.View is { } view)
            {
                double active = view.ActiveWeight(_options);
                long estimated = budget.EstimatedCount(view);
                LogContended(_logger, budget.Rule.ShapeId, estimated, budget.Rule.Limit, active, view.PreviousWeight);
            }

            requests[count] = new RateLimitRequest(_shareKeys.Get(tenantId), budget.ShareRule(share), cost);
            tags[count++] = tag;
            if (pool > 0)
            {
                requests[count] = new RateLimitRequest(PoolKey, budget.ShareRule(pool), cost);
                tags[count++] = tag;
            }
        }
    }

    /// <summary>
    /// Counts an admitted message (its cost against the global rules) into this instance's estimate of the global count,
    /// so contention is seen at once between reads of the store. A message that skipped the global rules is counted
    /// too, which can only make contention begin a little early.
    /// </summary>
    public void OnAdmitted(long cost)
    {
        foreach (FairShareBudget budget in _budgets)
        {
            budget.OnAdmitted(cost);
        }
    }

    /// <summary>The tenant's weight within the policy's bounds, or null for the default weight.</summary>
    internal double? WeightOf(string tenantId)
        => _tenantLimits.TryGetWeight(tenantId, out double? weight) && weight is { } w ? Math.Min(w, _options.MaxWeight) : null;

    private async ValueTask PrepareSlowAsync(string tenantId, long now, bool weightUnknown, bool register, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        try
        {
            if (weightUnknown)
            {
                await _tenantLimits.GetAsync(tenantId, [], storeTime, cancellationToken).ConfigureAwait(false);
            }

            bool registered = false;
            if (register)
            {
                double? weight = WeightOf(tenantId);
                foreach (FairShareBudget budget in _budgets)
                {
                    registered |= await RegisterAsync(budget, tenantId, budget.WindowIndex(now), weight, storeTime, cancellationToken).ConfigureAwait(false);
                }
            }

            await RefreshAsync(now, force: registered, storeTime, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRefreshFailed(_logger, LogValue.Of(ex));
            Pause(now);
        }
    }

    /// <summary>Peeks the active-weight and roster counters of a budget's current window (cost 0).</summary>
    internal static void AddBudgetPeeks(List<RateLimitRequest> requests, FairShareBudget budget)
    {
        requests.Add(new RateLimitRequest(WeightsKey, budget.WeightRule, 0));
        requests.Add(new RateLimitRequest(DefaultTenantsKey, budget.WeightRule, 0));
        requests.Add(new RateLimitRequest(RosterKey, budget.WeightRule, 0));
    }

    /// <summary>The request that peeks a tenant's share counter of a budget (the global rule's shape).</summary>
    internal RateLimitRequest SharePeek(FairShareBudget budget, string tenantId) => new(_shareKeys.Get(tenantId), budget.Rule, 0);

    /// <summary>Loads the tenant's weight from the tenant limit provider (cached), then returns it within the policy's bounds.</summary>
    internal async ValueTask<double?> LoadWeightAsync(string tenantId, CancellationToken cancellationToken)
    {
        if (_tenantLimits.HasProvider && !_tenantLimits.TryGetWeight(tenantId, out _))
        {
            await _tenantLimits.GetAsync(tenantId, [], cancellationToken).ConfigureAwait(false);
        }

        return WeightOf(tenantId);
    }

    private Task RefreshAsync(long now, bool force, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        Task? running = Volatile.Read(ref _refreshing);
        if (running is { IsCompleted: false })
        {
            return WaitForReadAsync(running, storeTime, cancellationToken);
        }

        if (!force && !IsStale(now))
        {
            return Task.CompletedTask;
        }

        Task mine = ReadAsync();
        Task? raced = Interlocked.CompareExchange(ref _refreshing, mine, running);
        return WaitForReadAsync(raced == running ? mine : raced!, storeTime, cancellationToken);
    }

    /// <summary>
    /// Waits for a read of the view, shared by the checks that find it stale, at most what is left of this check's
    /// budget. The read itself is no one check's: it gets the whole timeout, and a check that stops waiting goes on
    /// with the last view while the read goes on for the checks after it.
    /// </summary>
    private async Task WaitForReadAsync(Task read, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        if (storeTime is null || read.IsCompleted)
        {
            await read.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await read.WaitAsync(storeTime.Wait(), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // ReadAsync never throws, and records its own failure; nothing to observe.
        }
    }

    private bool IsStale(long now)
    {
        foreach (FairShareBudget budget in _budgets)
        {
            if (budget.View is not { } view || view.WindowIndex != budget.WindowIndex(now) || now - view.ReadAtMilliseconds >= _refreshMilliseconds)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One peek of every budget's global count and active-weight counters; the views change all together.</summary>
    private async Task ReadAsync()
    {
        try
        {
            RateLimitRequest[] requests = new RateLimitRequest[_budgets.Length * 3];
            for (int i = 0; i < _budgets.Length; i++)
            {
                FairShareBudget budget = _budgets[i];
                requests[3 * i] = new RateLimitRequest(PartitionKeys.Global, budget.Rule, 0);
                requests[(3 * i) + 1] = new RateLimitRequest(WeightsKey, budget.WeightRule, 0);
                requests[(3 * i) + 2] = new RateLimitRequest(DefaultTenantsKey, budget.WeightRule, 0);
            }

            RateLimitEntry[] results = new RateLimitEntry[requests.Length];
            long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            long[] admittedHere = [.. _budgets.Select(b => b.AdmittedHere)];
            RateLimitDecision decision = await _store.PeekAsync(requests, results, CancellationToken.None).ConfigureAwait(false);
            if (decision.Status is RateLimitStatus.StoreUnavailable or RateLimitStatus.AllowedUnguarded)
            {
                LogRefreshFailed(_logger, null);
                Pause(now);
                return;
            }

            for (int i = 0; i < _budgets.Length; i++)
            {
                Apply(_budgets[i], now, results[3 * i].Count, results[(3 * i) + 1].Count, results[(3 * i) + 2].Count, admittedHere[i]);
            }
        }
        catch (Exception ex)
        {
            LogRefreshFailed(_logger, LogValue.Of(ex));
            Pause(_timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    private void Apply(FairShareBudget budget, long now, long global, long weightUnits, long defaults, long admittedHere)
    {
        long index = budget.WindowIndex(now);
        budget.Update(new FairShareView(index, now, global, weightUnits, defaults, budget.PreviousWeight(index, _options), admittedHere));
    }

    private void Pause(long now) => Volatile.Write(ref _pausedUntilMilliseconds, now + Math.Max(1, _refreshMilliseconds));
}
