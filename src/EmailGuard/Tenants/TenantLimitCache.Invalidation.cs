namespace EmailGuard;

/// <summary>
/// Invalidation: an operator changed a tenant's limits (or every tenant's), so its next check asks the provider and,
/// until it answers, gets the stricter of its last answer and the defaults.
/// </summary>
internal sealed partial class TenantLimitCache
{
    /// <summary>
    /// Makes the next check of <paramref name="tenantId"/> ask the provider and wait for its answer (at most the timeout)
    /// instead of using the cached one, even while that lookup runs: the operator changed the tenant's limits. A lookup
    /// already running may have read the old limits, so it no longer answers either. The cached answer is kept only as
    /// the fallback of a lookup that fails, as an expired one is.
    /// </summary>
    public void Invalidate(string tenantId)
    {
        if (_entries.TryGetValue(tenantId, out Entry? entry))
        {
            InvalidateEntry(tenantId, entry);
        }

        CapWeight(tenantId);
    }

    /// <summary>As <see cref="Invalidate"/>, for every tenant.</summary>
    public void InvalidateAll()
    {
        foreach (KeyValuePair<string, Entry> pair in _entries)
        {
            // An entry added while this runs, or missed by the enumeration, belongs to a lookup that started after it began.
            InvalidateEntry(pair.Key, pair.Value);
        }

        foreach (KeyValuePair<string, TenantLimitAnswer> pair in _answers)
        {
            CapWeight(pair.Key);
        }
    }

    /// <summary>
    /// Makes every tenant's next check start a lookup, as if every answer had expired now: an expired answer keeps
    /// serving while it runs, within its grace, so no check waits. A lookup already running no longer answers.
    /// </summary>
    public void ExpireAll()
    {
        long now = _timeProvider.GetUtcNow().UtcTicks;
        foreach (KeyValuePair<string, Entry> pair in _entries)
        {
            if (pair.Value.ExpiresAtTicks > now)
            {
                _ = _entries.TryUpdate(pair.Key, pair.Value with { ExpiresAtTicks = now }, pair.Value);
            }
        }
    }

    /// <summary>Test seam: runs after an invalidation read a tenant's entry and before it replaces it.</summary>
    internal Action<string>? InvalidationRead { get; set; }

    /// <summary>
    /// Replaces <paramref name="entry"/> with its invalidated form, again while the tenant's entry changes but keeps its
    /// lookup: <see cref="ExpireAll"/> (a whole reload of the state, at every change on a store that reports none) or
    /// another invalidation rewrote it, and the answer it holds is still the old plan's. Given up on the first attempt,
    /// the invalidation was lost, and the next check served that answer while the provider was asked. An entry with
    /// another lookup, or none, was put there by a lookup that started after this call began: it stands.
    /// </summary>
    private void InvalidateEntry(string tenantId, Entry entry)
    {
        while (true)
        {
            InvalidationRead?.Invoke(tenantId);
            if (_entries.TryUpdate(tenantId, Invalidated(entry), entry)
                || !_entries.TryGetValue(tenantId, out Entry? current)
                || current.Rules != entry.Rules)
            {
                return;
            }

            entry = current;
        }
    }

    /// <summary>
    /// An entry that expired before any time there is (a check starts a new lookup) and whose answers serve no check
    /// while it runs, but whose answer (or the one before it, while its lookup runs) stays the fallback of a failure.
    /// </summary>
    private static Entry Invalidated(Entry entry) => new(entry.Rules, long.MinValue, entry.Previous, long.MinValue, entry.PreviousInvalidated, Invalidated: true);

    /// <summary>
    /// Until the provider answers after an invalidation, the tenant's fair-share weight is the smaller of its last one
    /// and the default, as its rules are: a tenant cut from a weight of 10 does not keep a share of 10 while its
    /// provider is slow. A weight below the default stays; one at or above it becomes the default (the default-weight
    /// tenants' bounded pool). A newer answer's weight, written meanwhile, is left alone.
    /// </summary>
    private void CapWeight(string tenantId)
    {
        if (_answers.TryGetValue(tenantId, out TenantLimitAnswer? weight) && !double.IsNaN(weight.Weight) && weight.Weight >= _defaultWeight)
        {
            _ = _answers.TryUpdate(tenantId, new TenantLimitAnswer(weight.RawRules, double.NaN, weight.HasLimits, weight.Pool), weight);
        }
    }
}
