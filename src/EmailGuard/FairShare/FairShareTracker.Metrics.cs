using System.Diagnostics.Metrics;

namespace EmailGuard;

/// <summary>The fair-share policy's instruments, on the EmailGuard meter.</summary>
internal sealed partial class FairShareTracker
{
    /// <summary>The active weight of each fair-shared global rule's window, as this instance last read it.</summary>
    public const string ActiveWeightInstrument = "emailguard.fair_share.active_weight";

    /// <summary>1 while a fair-shared global rule's window is contended (shares apply), else 0.</summary>
    public const string ContendedInstrument = "emailguard.fair_share.contended";

    private const string WindowTag = "emailguard.window";

    private void RegisterInstruments(EmailGuardMetrics? metrics)
    {
        if (metrics is null)
        {
            return;
        }

        metrics.Meter.CreateObservableGauge(
            ActiveWeightInstrument,
            ObserveActiveWeight,
            unit: "{weight}",
            description: "The summed weight of the tenants active in a fair-shared global rule's window, by window (the rule's shape).");
        metrics.Meter.CreateObservableGauge(
            ContendedInstrument,
            ObserveContended,
            unit: "{state}",
            description: "1 while a fair-shared global rule's window is contended and tenants get weighted shares, else 0; by window.");
    }

    private IEnumerable<Measurement<double>> ObserveActiveWeight()
    {
        foreach (FairShareBudget budget in _budgets)
        {
            if (budget.View is { } view)
            {
                yield return new Measurement<double>(view.ActiveWeight(_options), new KeyValuePair<string, object?>(WindowTag, budget.Rule.ShapeId));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveContended()
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (FairShareBudget budget in _budgets)
        {
            bool contended = budget.View is { } view && view.WindowIndex == budget.WindowIndex(now) && budget.EstimatedCount(view) >= budget.Threshold;
            yield return new Measurement<int>(contended ? 1 : 0, new KeyValuePair<string, object?>(WindowTag, budget.Rule.ShapeId));
        }
    }
}
