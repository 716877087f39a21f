using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard;

/// <summary>
/// Listens to what EmailGuard reports in this process, through its public surface only: the send guard's events
/// (<see cref="EmailGuardEvents"/>, chained after the app's own callbacks) and the <c>EmailGuard</c> meter's store and
/// endpoint instruments. Feeds the recent-activity record, the event log and the observers (alert rules).
/// </summary>
internal sealed partial class EmailGuardMonitor : IDisposable
{
    private const string StoreErrors = "emailguard.store.errors";
    private const string StoreDuration = "emailguard.store.duration";
    private const string EndpointDecisions = "emailguard.endpoint.decisions";

    private readonly TimeProvider _timeProvider;
    private readonly IEmailGuardObserver[] _observers;
    private readonly ILogger _logger;
    private readonly object? _meterScope;
    private readonly MeterListener _listener;
    private int _storeDown;
    private long _downSinceTicks;

    public EmailGuardMonitor(TimeProvider timeProvider, IEnumerable<IEmailGuardObserver> observers, DashboardEventLog events, ILogger<EmailGuardMonitor> logger, IMeterFactory? meterFactory, int sketchCapacity)
    {
        _timeProvider = timeProvider;
        _observers = [.. observers];
        _logger = logger;
        Events = events;
        _meterScope = meterFactory;
        Activity = new RecentActivity(timeProvider, sketchCapacity);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                // Only this host's meters: tests and multi-host processes each get their own factory and scope.
                if (instrument.Meter.Name == EmailGuardDiagnostics.MeterName
                    && (_meterScope is null || ReferenceEquals(instrument.Meter.Scope, _meterScope))
                    && instrument.Name is StoreErrors or StoreDuration or EndpointDecisions)
                {
                    listener.EnableMeasurementEvents(instrument, this);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(OnLong);
        _listener.SetMeasurementEventCallback<double>(OnDouble);
        _listener.Start();
    }

    public RecentActivity Activity { get; }

    public DashboardEventLog Events { get; }

    public bool IsStoreDown => Volatile.Read(ref _storeDown) == 1;

    public void OnChecked(EmailGuardCheckArguments checkEvent) => Activity.RecordCheck(checkEvent.Message, checkEvent.Decision);

    public void OnLimitExceeded(EmailGuardLimitArguments limitEvent)
    {
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnLimitExceeded(limitEvent);
        }
    }

    public void OnNearLimit(EmailGuardLimitArguments limitEvent)
    {
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnNearLimit(limitEvent);
        }
    }

    public void OnFlagged(EmailGuardFlag flag)
    {
        Events.Add(new DashboardEvent(_timeProvider.GetUtcNow(), flag.Suspend ? "suspended" : "flagged", $"{flag.PartyType} {flag.PartyId} {(flag.Suspend ? "suspended" : "flagged")}: {flag.Reason}", $"until {flag.ExpiresAt:u}"));
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnFlagged(flag);
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnLong(Instrument instrument, long measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (instrument.Name == StoreErrors)
        {
            StoreFailed(Tag(tags, "error.type") ?? "error");
        }
        else if (instrument.Name == EndpointDecisions && Tag(tags, "emailguard.policy") is { } policy)
        {
            Activity.RecordPolicyDecision(policy, Tag(tags, "emailguard.outcome") ?? "unknown");
        }
    }

    private void OnDouble(Instrument instrument, double measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        // A store call that took its time but succeeded has no error.type: the store answers again.
        if (instrument.Name == StoreDuration && Tag(tags, "error.type") is null)
        {
            StoreAnswered();
        }
    }

    private void StoreFailed(string errorType)
    {
        if (Interlocked.CompareExchange(ref _storeDown, 1, 0) != 0)
        {
            return;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        Volatile.Write(ref _downSinceTicks, now.UtcTicks);
        Log.StoreOutage(_logger, errorType);
        Events.Add(new DashboardEvent(now, "store_outage", "The store stopped answering", errorType));
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnStoreOutage(errorType);
        }
    }

    private void StoreAnswered()
    {
        if (Interlocked.CompareExchange(ref _storeDown, 0, 1) != 1)
        {
            return;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        TimeSpan downFor = TimeSpan.FromTicks(Math.Max(0, now.UtcTicks - Volatile.Read(ref _downSinceTicks)));
        Log.StoreRecovered(_logger, downFor);
        Events.Add(new DashboardEvent(now, "store_recovered", "The store answers again", $"after {downFor:g}"));
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnStoreRecovered(downFor);
        }
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1900, EventName = "DashboardStoreOutage", Level = LogLevel.Warning,
            Message = "The EmailGuard store stopped answering ({ErrorType}); the dashboard records an outage.")]
        public static partial void StoreOutage(ILogger logger, string errorType);

        [LoggerMessage(EventId = 1901, EventName = "DashboardStoreRecovered", Level = LogLevel.Information,
            Message = "The EmailGuard store answers again after {DownFor}.")]
        public static partial void StoreRecovered(ILogger logger, TimeSpan downFor);
    }
}
