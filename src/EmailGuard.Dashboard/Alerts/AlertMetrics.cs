using System.Diagnostics.Metrics;

namespace EmailGuard.Dashboard;

/// <summary>
/// The alerts' instruments on the <c>EmailGuard</c> meter, plus plain totals that tests and the dashboard read.
/// </summary>
internal sealed class AlertMetrics
{
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _suppressed;
    private readonly Counter<long> _dropped;
    private long _deliveredTotal;
    private long _failuresTotal;
    private long _suppressedTotal;
    private long _droppedTotal;

    public AlertMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = meterFactory?.Create(new MeterOptions(EmailGuardDiagnostics.MeterName)) ?? new Meter(EmailGuardDiagnostics.MeterName);
        _delivered = meter.CreateCounter<long>("emailguard.alerts.delivered", unit: "{alert}", description: "Alerts delivered, by sink.");
        _failures = meter.CreateCounter<long>("emailguard.alerts.delivery_failures", unit: "{alert}", description: "Alerts given up after every attempt failed, by sink.");
        _suppressed = meter.CreateCounter<long>("emailguard.alerts.suppressed", unit: "{alert}", description: "Alerts suppressed as repeats of their condition within the period.");
        _dropped = meter.CreateCounter<long>("emailguard.alerts.dropped", unit: "{alert}", description: "Alerts dropped because the delivery queue was full.");
    }

    public long Delivered => Interlocked.Read(ref _deliveredTotal);

    public long Failures => Interlocked.Read(ref _failuresTotal);

    public long Suppressed => Interlocked.Read(ref _suppressedTotal);

    public long Dropped => Interlocked.Read(ref _droppedTotal);

    public void RecordDelivered(string sink)
    {
        Interlocked.Increment(ref _deliveredTotal);
        _delivered.Add(1, new KeyValuePair<string, object?>("emailguard.alert.sink", sink));
    }

    public void RecordFailure(string sink)
    {
        Interlocked.Increment(ref _failuresTotal);
        _failures.Add(1, new KeyValuePair<string, object?>("emailguard.alert.sink", sink));
    }

    public void RecordSuppressed()
    {
        Interlocked.Increment(ref _suppressedTotal);
        _suppressed.Add(1);
    }

    public void RecordDropped()
    {
        Interlocked.Increment(ref _droppedTotal);
        _dropped.Add(1);
    }
}
