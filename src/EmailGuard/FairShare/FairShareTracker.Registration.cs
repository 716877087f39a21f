using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// Registration: the first check of a tenant in a window marks it active in the store (once, whichever instance sees
/// it first), adds its weight to the window's active weight, and lists it in the roster the budget read-out pages.
/// </summary>
internal sealed partial class FairShareTracker
{
    private async ValueTask<bool> RegisterAsync(FairShareBudget budget, string tenantId, long index, double? weight, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        if (!budget.TryClaimRegistration(tenantId, index))
        {
            return false;
        }

        // The roster counter numbers the window's active tenants, in the same acquire: one number per tenant per window.
        RateLimitRequest[] requests =
        [
            new(_activityKeys.Get(tenantId), budget.ActivityRule, 1),
            weight is { } w
                ? new(WeightsKey, budget.WeightRule, Math.Max(1, (long)Math.Round(w * WeightScale)))
                : new(DefaultTenantsKey, budget.WeightRule, 1),
            new(RosterKey, budget.WeightRule, 1),
        ];
        RateLimitEntry[] results = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await _store.AcquireAsync(requests, results, StoreFailureMode.FailClosed, storeTime, cancellationToken).ConfigureAwait(false);
        if (decision.Status is RateLimitStatus.StoreUnavailable or RateLimitStatus.AllowedUnguarded)
        {
            budget.ReleaseRegistration(tenantId, index);
            LogRegistrationFailed(_logger, LogValue.Of(tenantId));
            Pause(_timeProvider.GetUtcNow().ToUnixTimeMilliseconds());
            return false;
        }

        if (decision.IsAllowed)
        {
            string shownTenantId = LogValue.Of(tenantId);
            LogTenantActive(_logger, shownTenantId, budget.Rule.ShapeId, weight ?? _options.DefaultWeight, weight is null ? "the default weight" : "its own weight");
            await ListAsync(budget, index, results[2].Count, tenantId, storeTime, cancellationToken).ConfigureAwait(false);
        }

        // Denied: another instance registered the tenant first in this window; read the view that counts it.
        return true;
    }

    /// <summary>Lists a newly active tenant under its roster number; a failure costs only the listing, never the check.</summary>
    private async ValueTask ListAsync(FairShareBudget budget, long index, long number, string tenantId, StoreTimeBudget? storeTime, CancellationToken cancellationToken)
    {
        if (Roster is not { } roster)
        {
            return;
        }

        try
        {
            if (!await roster.AddAsync(budget, index, number, tenantId, storeTime, cancellationToken).ConfigureAwait(false))
            {
                LogRosterIdTooLong(_logger, tenantId.Length, budget.Rule.ShapeId);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogRosterWriteFailed(_logger, LogValue.Of(ex), budget.Rule.ShapeId);
        }
    }
}
