using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// <see cref="IEmailGuardAlerts"/>: the gate, then a bounded channel that <see cref="AlertDispatcher"/> drains in the
/// background. <see cref="Raise"/> takes one short lock and never waits.
/// </summary>
internal sealed class AlertPublisher : IEmailGuardAlerts
{
    private readonly TimeProvider _timeProvider;
    private readonly AlertMetrics _metrics;
    private readonly DashboardEventLog _log;

    public AlertPublisher(IOptions<EmailGuardAlertOptions> options, TimeProvider timeProvider, AlertMetrics metrics, DashboardEventLog log)
    {
        EmailGuardAlertOptions value = options.Value;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _log = log;
        Gate = new AlertGate(value.Period);
        Channel = System.Threading.Channels.Channel.CreateBounded<QueuedAlert>(new BoundedChannelOptions(value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
    }

    internal AlertGate Gate { get; }

    internal Channel<QueuedAlert> Channel { get; }

    public bool Raise(EmailGuardAlert alert)
    {
        ArgumentNullException.ThrowIfNull(alert);
        ArgumentException.ThrowIfNullOrWhiteSpace(alert.Condition);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        if (!Gate.TryPass(alert, now, out EmailGuardAlert passed, out int suppressed, out DateTimeOffset? since))
        {
            _metrics.RecordSuppressed();
            return false;
        }

        return Enqueue(new QueuedAlert(Guid.NewGuid(), passed, alert.Timestamp ?? now, suppressed, since));
    }

    /// <summary>Queues the summaries of conditions whose period ended with suppressed repeats.</summary>
    internal void FlushSummaries()
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        foreach ((EmailGuardAlert last, int suppressed, DateTimeOffset since) in Gate.CollectDue(now))
        {
            var summary = new EmailGuardAlert
            {
                Kind = EmailGuardAlertKinds.Suppressed,
                Condition = last.Condition,
                Severity = last.Severity,
                Details = last.Details,
                Title = $"{suppressed} more of: {last.Title}",
                Text = $"{suppressed} further alerts of this condition were suppressed since {since:u}. The last one: {last.Text}",
                Timestamp = now,
            };
            Enqueue(new QueuedAlert(Guid.NewGuid(), summary, now, suppressed, since));
        }
    }

    private bool Enqueue(QueuedAlert queued)
    {
        if (Channel.Writer.TryWrite(queued))
        {
            _log.Add(new DashboardEvent(queued.At, "alert", queued.Alert.Title, queued.Alert.Kind));
            return true;
        }

        _metrics.RecordDropped();
        return false;
    }
}
