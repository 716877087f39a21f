namespace EmailGuard;

/// <summary>
/// Reads the provider budget for <see cref="IEmailSendGuard.GetProviderBudgetAsync"/>: one peek of every global rule
/// and of the fair share's window counters, the roster of active tenants from the key-value store, their weights from
/// the tenant limit provider, and one peek of their share counters. Nothing is taken.
/// </summary>
internal sealed class ProviderBudgetReader(FairShareTracker? fairShare, ResilientRateLimitStore store, TimeProvider timeProvider)
{
    /// <summary>The most tenant limit lookups a read has in flight at once.</summary>
    private const int MaxConcurrentLookups = 16;

    /// <param name="rules">The caps in force, whose global rules are the provider's.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public async ValueTask<EmailProviderBudget> ReadAsync(SendGuardRules rules, CancellationToken cancellationToken)
    {
        DateTimeOffset now = timeProvider.GetUtcNow();
        long nowMilliseconds = now.ToUnixTimeMilliseconds();
        bool shared = fairShare is not null;
        List<RateLimitRequest> requests = [.. rules.Global.Select(static r => new RateLimitRequest(PartitionKeys.Global, r, 0))];
        IReadOnlyList<FairShareBudget> budgets = fairShare?.Budgets ?? [];
        int[] budgetOffsets = new int[budgets.Count];
        for (int i = 0; i < budgets.Count; i++)
        {
            budgetOffsets[i] = requests.Count;
            FairShareTracker.AddBudgetPeeks(requests, budgets[i]);
        }

        if (requests.Count == 0)
        {
            return new EmailProviderBudget([], now, isStoreAvailable: true, shared);
        }

        RateLimitEntry[] entries = new RateLimitEntry[requests.Count];
        RateLimitDecision decision = await store.PeekAsync(requests.ToArray(), entries, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            return new EmailProviderBudget([], now, isStoreAvailable: false, shared);
        }

        // The active tenants of every budget, their weights, then their share counters in one more peek.
        List<string>[] tenants = new List<string>[budgets.Count];
        List<RateLimitRequest> sharePeeks = [];
        for (int i = 0; i < budgets.Count; i++)
        {
            FairShareBudget budget = budgets[i];
            long roster = entries[budgetOffsets[i] + 2].Count;
            tenants[i] = await ListAsync(fairShare!.Roster, budget, budget.WindowIndex(nowMilliseconds), roster, cancellationToken).ConfigureAwait(false);
            sharePeeks.AddRange(tenants[i].Select(t => fairShare.SharePeek(budget, t)));
        }

        // Side by side, a few at a time: one after another, a slow tenant database made the read wait once per tenant
        // (up to the provider timeout each), and all at once it would get a hundred queries from one page view.
        System.Collections.Concurrent.ConcurrentDictionary<string, double?> weights = new(StringComparer.Ordinal);
        await Parallel.ForEachAsync(
            tenants.SelectMany(static t => t).Distinct(StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentLookups, CancellationToken = cancellationToken },
            async (tenant, token) => weights[tenant] = await fairShare!.LoadWeightAsync(tenant, token).ConfigureAwait(false)).ConfigureAwait(false);

        RateLimitEntry[] used = new RateLimitEntry[sharePeeks.Count];
        if (sharePeeks.Count > 0
            && (await store.PeekAsync(sharePeeks.ToArray(), used, cancellationToken).ConfigureAwait(false)).Status == RateLimitStatus.StoreUnavailable)
        {
            return new EmailProviderBudget([], now, isStoreAvailable: false, shared);
        }

        EmailProviderBudgetRule[] result = new EmailProviderBudgetRule[rules.Global.Length];
        int usedIndex = 0;
        for (int r = 0; r < rules.Global.Length; r++)
        {
            RateLimitRule rule = rules.Global[r];
            int b = IndexOf(budgets, rule);
            if (b < 0)
            {
                result[r] = new EmailProviderBudgetRule(rule, entries[r], isShared: false, 0, isContended: false, 0, 0, []);
                continue;
            }

            FairShareBudget budget = budgets[b];
            FairShareOptions options = fairShare!.Options;
            int offset = budgetOffsets[b];
            long index = budget.WindowIndex(nowMilliseconds);
            FairShareView view = new(
                index, nowMilliseconds, entries[r].Count, entries[offset].Count, entries[offset + 1].Count, budget.PreviousWeight(index, options), 0);
            List<EmailTenantShare> shares = new(tenants[b].Count);
            foreach (string tenant in tenants[b])
            {
                double? weight = weights[tenant];
                budget.SharesOf(view, nowMilliseconds, weight, options, out long share, out _);
                shares.Add(new EmailTenantShare(tenant, weight ?? options.DefaultWeight, weight is null, share, used[usedIndex++].Count));
            }

            long active = entries[offset + 2].Count;
            result[r] = new EmailProviderBudgetRule(
                rule, entries[r], isShared: true, budget.Threshold, entries[r].Count >= budget.Threshold, view.ActiveWeight(options), active, shares);
        }

        return new EmailProviderBudget(result, decision.Timestamp, isStoreAvailable: true, shared);
    }

    /// <summary>The listed tenants; none when no key-value store is registered or it does not answer (they are still counted).</summary>
    private static async ValueTask<List<string>> ListAsync(FairShareRoster? roster, FairShareBudget budget, long windowIndex, long count, CancellationToken cancellationToken)
    {
        if (roster is null || count <= 0)
        {
            return [];
        }

        try
        {
            return [.. await roster.ReadAsync(budget, windowIndex, count, cancellationToken).ConfigureAwait(false)];
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return [];
        }
    }

    private static int IndexOf(IReadOnlyList<FairShareBudget> budgets, RateLimitRule rule)
    {
        for (int i = 0; i < budgets.Count; i++)
        {
            if (ReferenceEquals(budgets[i].Rule, rule))
            {
                return i;
            }
        }

        return -1;
    }
}
