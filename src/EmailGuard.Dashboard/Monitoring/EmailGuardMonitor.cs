using System.Diagnostics.Metrics;
using System.Globalization;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.Logging;

namespace EmailGuard.Dashboard;

/// <summary>
/// Listens to what EmailGuard reports in this process, through its public surface only: the send guard's events
/// (<see cref="EmailGuardEvents"/>, chained after the app's own callbacks), the ratio breakers', feedback suppressions'
/// and endpoint defenses' callbacks (<see cref="HookBreakerEvents"/>), and the <c>EmailGuard</c> meter's store and
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

    public void OnRefunded(EmailGuardRefundArguments refundEvent) => Activity.RecordRefund(refundEvent.Message, refundEvent.Decision.Timestamp);

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

    public void OnFlagged(EmailGuardFlag flag, EmailGuardFlag? replaced)
    {
        Events.Add(new DashboardEvent(_timeProvider.GetUtcNow(), flag.Suspend ? DashboardEventKinds.Suspended : DashboardEventKinds.Flagged, $"{flag.PartyType} {flag.PartyId} {(flag.Suspend ? "suspended" : "flagged")}: {flag.Reason}", $"until {flag.ExpiresAt:u}"));
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnFlagged(flag, replaced);
        }
    }

    public void OnRatioBreakerTripped(EmailRatioBreakerArguments tripped)
    {
        string what = tripped.Action switch
        {
            EmailRatioBreakerAction.Suspended => "suspended",
            EmailRatioBreakerAction.NetworkBanned => "banned",
            _ => "limits reduced",
        };
        EmailFeedbackCounts counts = tripped.Counts;
        AlertMessage detail = tripped.EndpointPolicy is { } policy
            ? AlertMessage.Of($"bounce rate {counts.BounceRate:P2}, complaint rate {counts.ComplaintRate:P3} over {counts.Sends} sends; until {tripped.ExpiresAt:u}; endpoint policy {policy}")
            : AlertMessage.Of($"bounce rate {counts.BounceRate:P2}, complaint rate {counts.ComplaintRate:P3} over {counts.Sends} sends; until {tripped.ExpiresAt:u}");
        BreakerTripped(
            new DashboardEvent(
                _timeProvider.GetUtcNow(),
                DashboardEventKinds.BreakerTripped,
                AlertMessage.Of($"Ratio breaker: {tripped.Dimension} {ClientNetworkText.Show(tripped.Dimension, tripped.Partition)} {AlertMessage.Verbatim(what)} ({tripped.Reason})"),
                detail),
            BreakerScopes.ForRatioBreaker(tripped.Dimension, tripped.Action),
            BreakerIncident.Of(tripped),
            BreakerFlag.Of(tripped));
    }

    public void OnRatioBreakerRecovered(EmailRatioBreakerRecoveredArguments recovered)
    {
        Events.Add(new DashboardEvent(
            recovered.RecoveredAt,
            DashboardEventKinds.BreakerRecovered,
            $"Ratio breaker: {recovered.Dimension} {ClientNetworkText.Show(recovered.Dimension, recovered.Partition)} recovered ({recovered.Reason})",
            string.Create(CultureInfo.InvariantCulture, $"half-open probe: {recovered.ProbeFailures} failures in {recovered.ProbeSends} sends; after {recovered.Level} trip(s) in a row")));
        string key = BreakerIncident.RatioKey(recovered.Dimension, recovered.Partition, recovered.Reason);
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnBreakerRecovered(key, recovered.RecoveredAt);
        }
    }

    public void OnBanStarted(EmailGuardBanStartedArguments ban)
        => BreakerTripped(new DashboardEvent(
            ban.StartedAt,
            DashboardEventKinds.NetworkBanned,
            AlertMessage.Of($"Client network {ClientNetworkText.Cidr(ban.ClientNetwork)} banned by endpoint policy {ban.PolicyName}"),
            AlertMessage.Of($"for {ban.Duration:g} (ban #{ban.Repeat}, {AlertMessage.Verbatim(BanReason(ban.Reason))})")),
            BreakerScopes.Network);

    private static string BanReason(EmailGuardBanReason reason) => reason switch
    {
        EmailGuardBanReason.Requests => "too many requests: Allow2Ban",
        EmailGuardBanReason.Bounces => "its mail bounced",
        _ => "too many denials",
    };

    public void OnSurgeBreaker(EmailGuardSurgeBreakerArguments surge, bool tripped)
    {
        string detail = string.Create(CultureInfo.InvariantCulture, $"{surge.RequestsThisMinute} requests this minute, threshold {surge.Threshold}");
        if (tripped)
        {
            BreakerTripped(
                new DashboardEvent(surge.Timestamp, DashboardEventKinds.SurgeBreakerTripped, AlertMessage.Of($"Surge breaker of endpoint policy {surge.PolicyName} tripped"), AlertMessage.Verbatim(detail)),
                BreakerScopes.Endpoint,
                new BreakerIncident(BreakerIncident.SurgeKey(surge.PolicyName), null));
        }
        else
        {
            Events.Add(new DashboardEvent(surge.Timestamp, DashboardEventKinds.SurgeBreakerRecovered, $"Surge breaker of endpoint policy {surge.PolicyName} recovered", detail));

            // This instance's clock, as the alert rules time the trips with it; the event's is the store's.
            DateTimeOffset now = _timeProvider.GetUtcNow();
            foreach (IEmailGuardObserver observer in _observers)
            {
                observer.OnBreakerRecovered(BreakerIncident.SurgeKey(surge.PolicyName), now);
            }
        }
    }

    public void OnSuppressed(EmailSuppressionArguments suppressed)
        => Events.Add(new DashboardEvent(
            _timeProvider.GetUtcNow(),
            DashboardEventKinds.Suppressed,
            $"{suppressed.Recipient} suppressed: {suppressed.Reason}",
            suppressed.Entry.ExpiresAt is { } until ? $"until {until:u}" : "no expiry"));

    public void Dispose() => _listener.Dispose();

    private void BreakerTripped(DashboardEvent item, string scope, BreakerIncident? incident = null, BreakerFlag? flag = null)
    {
        string shownTitle = LogValue.Of(item.Title);
        Log.BreakerTripped(_logger, item.Kind, shownTitle);
        Events.Add(item);
        foreach (IEmailGuardObserver observer in _observers)
        {
            observer.OnBreakerTripped(item, scope, incident, flag);
        }
    }

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
        Events.Add(new DashboardEvent(now, DashboardEventKinds.StoreOutage, "The store stopped answering", errorType));
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
        Events.Add(new DashboardEvent(now, DashboardEventKinds.StoreRecovered, "The store answers again", $"after {downFor:g}"));
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

        [LoggerMessage(EventId = 2500, EventName = "DashboardBreakerTripped", Level = LogLevel.Information,
            Message = "The dashboard records a breaker trip ({Kind}): {Title}.")]
        public static partial void BreakerTripped(ILogger logger, string kind, string title);
    }
}
