using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// <see cref="IEmailGuardAlerts"/>: the gate, then a bounded channel that <see cref="AlertDispatcher"/> drains in the
/// background. <see cref="Raise"/> takes one short lock and never waits.
/// </summary>
/// <remarks>
/// A critical alert that finds the queue full (a receiver down or slow while warnings piled up) goes to a small urgent
/// lane of its own, which the dispatcher drains before the next queued alert: a store outage or a suspension raised
/// behind a thousand queued warnings is neither dropped nor sent after all of them.
/// </remarks>
internal sealed class AlertPublisher : IEmailGuardAlerts
{
    /// <summary>How many critical alerts wait in the urgent lane at most; further ones are dropped and counted.</summary>
    internal const int UrgentCapacity = 64;

    private readonly TimeProvider _timeProvider;
    private readonly AlertMetrics _metrics;
    private readonly DashboardEventLog _log;

    public AlertPublisher(IOptions<EmailGuardAlertOptions> options, TimeProvider timeProvider, AlertMetrics metrics, DashboardEventLog log)
    {
        EmailGuardAlertOptions value = options.Value;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _log = log;
        Gate = new AlertGate(value.Period, value.MaxConditionsPerKind);
        Channel = CreateQueue(value.QueueCapacity);
        Urgent = CreateQueue(UrgentCapacity);
    }

    internal AlertGate Gate { get; }

    internal Channel<QueuedAlert> Channel { get; }

    /// <summary>Critical alerts that found <see cref="Channel"/> full; the dispatcher sends them first.</summary>
    internal Channel<QueuedAlert> Urgent { get; }

    /// <summary>The next alert to send: an urgent one first, else the oldest queued.</summary>
    internal bool TryTakeNext([NotNullWhen(true)] out QueuedAlert? alert)
        => Urgent.Reader.TryRead(out alert) || Channel.Reader.TryRead(out alert);

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
            AlertMessage title = AlertMessage.Of($"{suppressed} more of: {last.FormattedTitle}");
            AlertMessage text = AlertMessage.Of($"{suppressed} further alerts of this condition were suppressed since {since:u}. The last one: {last.FormattedText}");
            EmailGuardAlert summary = EmailGuardAlert.Quoting(EmailGuardAlertKinds.Suppressed, last.Condition, last.Severity, title, text, last.Details, now, dashboardPath: last.DashboardPath);
            Enqueue(new QueuedAlert(Guid.NewGuid(), summary, now, suppressed, since));
        }
    }

    /// <summary>A queue the dispatcher alone reads; a write to it when full fails at once (<see cref="Raise"/> never waits).</summary>
    private static Channel<QueuedAlert> CreateQueue(int capacity)
        => System.Threading.Channels.Channel.CreateBounded<QueuedAlert>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });

    private bool Enqueue(QueuedAlert queued)
    {
        if (Channel.Writer.TryWrite(queued)
            || (queued.Alert.Severity == EmailGuardAlertSeverity.Critical && Urgent.Writer.TryWrite(queued)))
        {
            _log.Add(new DashboardEvent(queued.At, "alert", queued.Alert.Title, queued.Alert.Kind));
            return true;
        }

        _metrics.RecordDropped();
        return false;
    }
}
