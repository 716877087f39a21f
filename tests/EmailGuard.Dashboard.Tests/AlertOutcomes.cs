using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard.Tests;

/// <summary>
/// Signals each alert outcome a host's dispatcher records (<c>emailguard.alerts.delivered</c> and
/// <c>emailguard.alerts.delivery_failures</c> on that host's own meter), so that a test awaits the outcome it expects
/// instead of polling for it. The dispatcher counts an outcome (<see cref="AlertMetrics"/>) before it records the
/// measurement, so a condition on those counts holds by the time it is signalled.
/// </summary>
internal sealed class AlertOutcomes : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly List<(Func<bool> Condition, TaskCompletionSource Met)> _waiters = [];
    private readonly TimeSpan _bound;

    public AlertOutcomes(IServiceProvider services)
    {
        // Other tests' hosts record on meters of the same name at the same time: only this host's factory's count.
        IMeterFactory factory = services.GetRequiredService<IMeterFactory>();
        _bound = services.GetRequiredService<IOptions<EmailGuardAlertOptions>>().Value.RequestTimeout * BoundInRequestTimeouts;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory)
                && instrument.Name is "emailguard.alerts.delivered" or "emailguard.alerts.delivery_failures")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, _, _, _) => Signal());
        _listener.Start();
    }

    /// <summary>How many of the host's request timeouts a wait lasts at most: a generous bound, only reached by a failure.</summary>
    public const int BoundInRequestTimeouts = 6;

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, checked now and at each outcome the dispatcher records, for at
    /// most <see cref="BoundInRequestTimeouts"/> of the host's request timeouts; then asserts it.
    /// </summary>
    public async Task WaitUntilAsync(Func<bool> condition)
    {
        TaskCompletionSource met = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Add((condition, met));
        }

        Signal();
        try
        {
            await met.Task.WaitAsync(_bound);
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _waiters.RemoveAll(w => w.Met == met);
            }
        }

        condition().Should().BeTrue($"the dispatcher finished the deliveries within {_bound}");
    }

    public void Dispose() => _listener.Dispose();

    private void Signal()
    {
        lock (_gate)
        {
            foreach ((Func<bool> condition, TaskCompletionSource met) in _waiters)
            {
                if (condition())
                {
                    met.TrySetResult();
                }
            }
        }
    }
}
