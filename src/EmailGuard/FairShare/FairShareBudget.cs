using System.Collections.Concurrent;

namespace EmailGuard;

/// <summary>
/// One fair-shared global window rule: where contention starts, the counters that record which tenants are active
/// in its window, this instance's last view of them, and the share each tenant gets from that view.
/// </summary>
internal sealed class FairShareBudget
{
    private const int MaxCachedRules = 1_024;
    internal const int MaxRegisteredTenants = 100_000;

    // Share rules by limit: a share changes only when the view does, so a check reuses the rule object.
    private readonly BoundedKeyCache<long, RateLimitRule> _shareRules = new(MaxCachedRules);

    // Tenant → the window this instance registered it in; the store's activity marker is the authority.
    private readonly ConcurrentDictionary<string, long> _registered = new(StringComparer.Ordinal);
    private FairShareView? _view;

    // What this instance admitted under the rule since it started; a view records it as read, so the global count of
    // the view plus what was admitted here since is this instance's best estimate between reads.
    private long _admittedHere;
    private long _contendedWindow = long.MinValue;

    public FairShareBudget(RateLimitRule rule, double threshold)
    {
        Rule = rule;
        Threshold = (long)Math.Floor(rule.Limit * threshold);
        Contended = rule.Limit - Threshold;
        ActivityRule = RateLimitRule.FixedWindow(1, rule.Window);
        WeightRule = RateLimitRule.FixedWindow(RateLimitRule.MaxLimit, rule.Window);
    }

    /// <summary>The global rule.</summary>
    public RateLimitRule Rule { get; }

    /// <summary>The global count from which the window is contended.</summary>
    public long Threshold { get; }

    /// <summary>The part of the limit that is shared: the limit less <see cref="Threshold"/>; at least 1.</summary>
    public long Contended { get; }

    /// <summary>A tenant's activity marker: admits once per window, so a tenant's weight is added once.</summary>
    public RateLimitRule ActivityRule { get; }

    /// <summary>The active-weight counters of the window.</summary>
    public RateLimitRule WeightRule { get; }

    public FairShareView? View => Volatile.Read(ref _view);

    public long WindowIndex(long nowMilliseconds) => WindowMath.FloorDiv(nowMilliseconds, Rule.WindowMilliseconds);

    public void Update(FairShareView view) => Volatile.Write(ref _view, view);

    public long AdmittedHere => Interlocked.Read(ref _admittedHere);

    /// <summary>True the first time this instance finds the window contended, so that is logged once per window.</summary>
    public bool TryMarkContended(long windowIndex) => Interlocked.Exchange(ref _contendedWindow, windowIndex) != windowIndex;

    public void OnAdmitted(long cost) => Interlocked.Add(ref _admittedHere, cost);

    /// <summary>The global count from the view plus what this instance admitted since the view was read.</summary>
    public long EstimatedCount(FairShareView view) => view.GlobalCount + Math.Max(0, AdmittedHere - view.AdmittedHereAtRead);

    public bool IsRegistered(string tenantId, long windowIndex)
        => _registered.TryGetValue(tenantId, out long registered) && registered == windowIndex;

    /// <summary>Claims the registration of a tenant for a window on this instance; false when it is claimed already.</summary>
    public bool TryClaimRegistration(string tenantId, long windowIndex)
    {
        while (true)
        {
            if (_registered.TryGetValue(tenantId, out long registered))
            {
                if (registered == windowIndex)
                {
                    return false;
                }

                if (_registered.TryUpdate(tenantId, windowIndex, registered))
                {
                    return true;
                }

                continue;
            }

            if (_registered.Count >= MaxRegisteredTenants && !MakeRoom(windowIndex))
            {
                // Every entry is this window's: register without remembering it. A repeated registration costs a call
                // that the store's marker turns down, and the tenants remembered so far keep theirs.
                return true;
            }

            if (_registered.TryAdd(tenantId, windowIndex))
            {
                return true;
            }
        }
    }

    /// <summary>Forgets the registrations of earlier windows, which no check asks about; true when that made room.</summary>
    private bool MakeRoom(long windowIndex)
    {
        foreach (KeyValuePair<string, long> pair in _registered)
        {
            if (pair.Value < windowIndex)
            {
                _registered.TryRemove(pair);
            }
        }

        return _registered.Count < MaxRegisteredTenants;
    }

    public void ReleaseRegistration(string tenantId, long windowIndex)
        => _registered.TryRemove(new KeyValuePair<string, long>(tenantId, windowIndex));

    /// <summary>
    /// The share limits of a tenant from the current view, or false when the rule is not contended (or there is no
    /// view of this window): then the check carries no share.
    /// </summary>
    /// <param name="nowMilliseconds">Now, Unix milliseconds.</param>
    /// <param name="weight">The tenant's weight, or null for the default weight.</param>
    /// <param name="options">The policy.</param>
    /// <param name="share">The tenant's own share of the contended part.</param>
    /// <param name="pool">For a default-weight tenant, the share of all default-weight tenants together; else 0.</param>
    public bool TryGetShares(long nowMilliseconds, double? weight, FairShareOptions options, out long share, out long pool)
    {
        share = 0;
        pool = 0;
        FairShareView? view = View;
        if (view is null || view.WindowIndex != WindowIndex(nowMilliseconds) || EstimatedCount(view) < Threshold)
        {
            return false;
        }

        SharesOf(view, nowMilliseconds, weight, options, out share, out pool);
        return true;
    }

    /// <summary>
    /// The share limits of a tenant by a view of the current window, contended or not: what <see cref="TryGetShares"/>
    /// gives while the window is contended.
    /// </summary>
    public void SharesOf(FairShareView view, long nowMilliseconds, double? weight, FairShareOptions options, out long share, out long pool)
    {
        pool = 0;
        long index = WindowIndex(nowMilliseconds);

        // Tenants active in the window before count for the part of this window that has not passed yet, as a
        // sliding window counter counts the window before: a busy tenant that has not sent yet this window is not
        // left out at the window's start, and an idle one's share flows to the others as the window goes by.
        double elapsed = (nowMilliseconds - (index * Rule.WindowMilliseconds)) / (double)Rule.WindowMilliseconds;
        double total = Math.Max(view.ActiveWeight(options), view.PreviousWeight * (1 - elapsed));
        if (weight is { } own)
        {
            total = Math.Max(total, own);
            share = Portion(own, total);
            return;
        }

        long defaults = Math.Max(1, view.DefaultTenants);
        double poolWeight = Math.Min(defaults * options.DefaultWeight, options.MaxDefaultWeightTotal);
        total = Math.Max(total, poolWeight);
        share = Portion(poolWeight / defaults, total);
        pool = Portion(poolWeight, total);
    }

    /// <summary>
    /// The active weight of the window before <paramref name="windowIndex"/>, as this instance last read it: what the
    /// share of a window that has just begun still counts.
    /// </summary>
    public double PreviousWeight(long windowIndex, FairShareOptions options)
    {
        FairShareView? old = View;
        return old is null ? 0
            : old.WindowIndex == windowIndex ? old.PreviousWeight
            : old.WindowIndex == windowIndex - 1 ? old.ActiveWeight(options)
            : 0;
    }

    /// <summary>The rule of a share: the global rule's shape (so its counter) with the share as its limit.</summary>
    public RateLimitRule ShareRule(long limit) => _shareRules.GetOrAdd(limit, Rule, static (limit, rule) => rule.WithLimit(limit));

    private long Portion(double weight, double total)
    {
        // At least 1, so a share is a valid limit and every active tenant can send something; the small epsilon keeps a
        // whole share whole despite rounding (weight == total gives the whole contended part).
        long portion = (long)Math.Floor((Contended * (weight / total)) + 1e-9);
        return Math.Clamp(portion, 1, Contended);
    }
}
