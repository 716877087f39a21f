namespace EmailGuard;

/// <summary>
/// The provider's lookups: at most <c>lookupConcurrency</c> at once, a slot given up by a lookup that hangs for a whole
/// lifetime, the answer's rules and fair-share weight kept, a failure's fallback.
/// </summary>
internal sealed partial class TenantLimitCache
{
    /// <summary>
    /// Asks the provider and completes <paramref name="loading"/> with its answer (the default rules when it answers
    /// null), or <paramref name="fallback"/> when it fails.
    /// </summary>
    /// <remarks>
    /// At most <c>lookupConcurrency</c> lookups ask the provider at once; the others queue for a slot, and the checks
    /// waiting for them still wait at most the timeout. A lookup that holds its slot for a whole lifetime (a provider
    /// that hangs) gives it up and goes on outside the cap, so a few hung lookups do not stop every other tenant's.
    /// </remarks>
    /// <param name="tenantId">The tenant.</param>
    /// <param name="fallback">The answer when the provider fails, and the rules when it answers without rules.</param>
    /// <param name="invalidated">Whether the lookup follows an invalidation (<paramref name="fallback"/> is then capped by the defaults, <see cref="TenantLimitAnswer.CappedByDefaults"/>).</param>
    /// <param name="loading">Completed with the answer.</param>
    /// <param name="cached">Whether the tenant has an entry; the weight of one looked up uncached is not kept either.</param>
    private async Task FillAsync(string tenantId, TenantLimitAnswer fallback, bool invalidated, TaskCompletionSource<TenantLimitAnswer> loading, bool cached)
    {
        TenantLimitAnswer answer = fallback;
        bool holding = false;
        try
        {
            // A lookup the provider's own code starts (it checks a mail through the guard for another tenant) does not
            // queue for a slot: its caller holds one until it answers, and with every slot held so, none would come back.
            if (!s_inLookup.Value)
            {
                await _lookupSlots.WaitAsync().ConfigureAwait(false);
                holding = true;
            }

            // Set within this method's flow only: the provider's code sees it, this method's caller does not.
            s_inLookup.Value = true;
            ValueTask<TenantLimits?> asking = _provider!.GetLimitsAsync(tenantId, CancellationToken.None);
            TenantLimits? limits;
            if (asking.IsCompleted)
            {
                limits = await asking.ConfigureAwait(false);
            }
            else
            {
                Task<TenantLimits?> lookup = asking.AsTask();
                if (holding)
                {
                    holding = await HoldSlotAsync(tenantId, lookup).ConfigureAwait(false);
                }

                limits = await lookup.ConfigureAwait(false);
            }

            // Rules left as the fallback's stay capped by the defaults as it is (an invalidated tenant's).
            RateLimitRule[] rules = fallback.RawRules;
            bool capped = fallback.CappedByDefaults;
            if (limits is null)
            {
                // The defaults, not the last answer: a tenant whose own limits were removed (a plan cut back to the
                // default plan) no longer has them.
                rules = TenantLimitAnswer.DefaultRules;
                capped = false;
            }
            else if (limits.Rules is { } given)
            {
                rules = SendGuardRules.Normalize(given);
                capped = false;
            }
            else
            {
                // Rules is not nullable, but a mapper that read a NULL column leaves it so. An empty list lifts the
                // limit on purpose; a missing one must not, so it is read like a failed lookup.
                LogRulesMissing(_logger, LogValue.Of(tenantId));
            }

            double weight = CheckedWeight(tenantId, limits?.FairShareWeight);
            // A pool read from a CHAR(n) column comes padded ("trial   "): trimmed, as configured names have no whitespace
            // around them (the options' validation refuses it); a blank one is no pool.
            answer = new TenantLimitAnswer(rules, weight, limits is not null, limits?.Pool?.Trim() is { Length: > 0 } pool ? pool : null, capped);

            // Not a lookup an invalidation replaced with a newer one: its weight and pool may be the old plan's, and may land last.
            // A tenant looked up uncached (the cache is full) is not kept, but its check gets the whole answer: its pool
            // too, or a rogue that fills the cache would send from new trial tenants outside the trial pool.
            if (cached && (!_entries.TryGetValue(tenantId, out Entry? current) || current.Rules == loading.Task))
            {
                _answers[tenantId] = answer;
            }
        }
        catch (Exception ex)
        {
            if (invalidated)
            {
                LogInvalidatedFallback(_logger, LogValue.Of(tenantId), "failed", LogValue.Of(ex));
            }
            else
            {
                LogProviderFailure(_logger, LogValue.Of(tenantId), LogValue.Of(ex));
            }

            answer = fallback;

            // Keep the last weight and pool, or the default ones, as the rules are kept, so a failing provider is not asked on every
            // check: as a new object, which a sweep that read the old one before this lookup began does not remove.
            if (cached)
            {
                _answers.AddOrUpdate(tenantId, static _ => new TenantLimitAnswer(TenantLimitAnswer.DefaultRules, double.NaN, false, null), static (_, last) => last.WithRules(last.RawRules));
            }
        }
        finally
        {
            if (holding)
            {
                _lookupSlots.Release();
            }
        }

        loading.TrySetResult(answer);
    }

    /// <summary>
    /// Waits until the lookup completes, or a lifetime has passed; returns whether the lookup still holds its slot
    /// (false: it was given up, and the lookup goes on outside the cap).
    /// </summary>
    private async Task<bool> HoldSlotAsync(string tenantId, Task<TenantLimits?> lookup)
    {
        using CancellationTokenSource stop = new();
        TimeSpan longest = TimeSpan.FromTicks(Math.Max(_lifetimeTicks, _timeout.Ticks));
        Task held = Task.Delay(longest, _timeProvider, stop.Token);
        if (await Task.WhenAny(lookup, held).ConfigureAwait(false) == lookup)
        {
            await stop.CancelAsync().ConfigureAwait(false);
            return true;
        }

        _lookupSlots.Release();
        LogLookupSlotGivenUp(_logger, LogValue.Of(tenantId), longest, _lookupConcurrency);
        return false;
    }

    private double CheckedWeight(string tenantId, double? weight)
    {
        if (weight is not { } value)
        {
            return double.NaN;
        }

        if (double.IsFinite(value) && value > 0)
        {
            return value;
        }

        LogInvalidWeight(_logger, LogValue.Of(tenantId), value);
        return double.NaN;
    }
}
