using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The EmailGuard meter and its instruments. One instance per service provider, created from
/// <see cref="IMeterFactory"/> so that tests and hosts get isolated meters. Every method checks that its instrument is
/// enabled before building tags, so an app that collects nothing pays one field read per call.
/// </summary>
internal sealed partial class EmailGuardMetrics : IDisposable
{
    public const string DecisionsInstrument = "emailguard.decisions";
    public const string StoreDurationInstrument = "emailguard.store.duration";
    public const string StoreErrorsInstrument = "emailguard.store.errors";
    public const string StoreFallbacksInstrument = "emailguard.store.fallbacks";
    public const string BreakerStateInstrument = "emailguard.store.breaker.state";
    public const string TrackedKeysInstrument = "emailguard.store.tracked_keys";
    public const string OverflowDecisionsInstrument = "emailguard.store.overflow_decisions";
    public const string FeedbackInstrument = "emailguard.feedback";

    /// <summary>The signature checks of feedback tags that name a party, when tag signing keys are listed.</summary>
    public const string FeedbackTagsInstrument = "emailguard.feedback.tags";

    /// <summary>The feedback events about mail the provider never sent, by whether the mail was left out of its parties' sends.</summary>
    public const string FeedbackNotSentInstrument = "emailguard.feedback.not_sent";

    /// <summary>The content-inspector verdicts instrument.</summary>
    public const string ContentVerdictsInstrument = "emailguard.content.verdicts";

    /// <summary>The ratio-breaker trips instrument.</summary>
    public const string BreakerTripsInstrument = "emailguard.ratio_breaker.trips";

    /// <summary>The reservation wait instrument: how far ahead each admitted send-guard reservation lies.</summary>
    public const string ReservationWaitInstrument = "emailguard.reservation.wait";

    private const string DimensionTag = "emailguard.dimension";
    private const string PolicyTag = "emailguard.policy";
    private const string OutcomeTag = "emailguard.outcome";
    private const string OperationTag = "emailguard.store.operation";
    private const string FailureModeTag = "emailguard.failure_mode";
    private const string ReasonTag = "emailguard.reason";
    private const string ErrorTypeTag = "error.type";
    private const string StoreNameTag = "emailguard.store.name";
    private const string ProviderTag = "emailguard.feedback.provider";
    private const string KindTag = "emailguard.feedback.kind";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _decisions;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _storeErrors;
    private readonly Counter<long> _storeFallbacks;
    private readonly Counter<long> _overflowDecisions;
    private readonly Counter<long> _feedback;
    private readonly Counter<long> _feedbackTags;
    private readonly Counter<long> _feedbackNotSent;
    private readonly Counter<long> _breakerTrips;
    private readonly Counter<long> _contentVerdicts;
    private readonly Histogram<double> _reservationWait;
    private readonly Lock _inMemoryStoresLock = new();
    private StoreCircuitBreaker? _breaker;
    private InMemoryRateLimitStore[] _inMemoryStores = [];

    /// <param name="meterFactory">The host's meter factory; without one (a bare service collection) the meter is created directly.</param>
    public EmailGuardMetrics(IMeterFactory? meterFactory)
    {
        // A factory caches meters by name, so other EmailGuard components share this one; the factory disposes it.
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(EmailGuardDiagnostics.MeterName)) ?? new Meter(EmailGuardDiagnostics.MeterName);

        _decisions = _meter.CreateCounter<long>(
            DecisionsInstrument,
            unit: "{decision}",
            description: "Rate-limit decisions, by dimension, policy and outcome.");
        _storeDuration = _meter.CreateHistogram<double>(
            StoreDurationInstrument,
            unit: "s",
            description: "The duration of store calls that reached the store, including those that failed or timed out.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] });
        _storeErrors = _meter.CreateCounter<long>(
            StoreErrorsInstrument,
            unit: "{error}",
            description: "Store calls that threw or timed out.");
        _storeFallbacks = _meter.CreateCounter<long>(
            StoreFallbacksInstrument,
            unit: "{call}",
            description: "Calls answered by a failure mode instead of the store (fail_open ones were admitted unguarded).");
        _meter.CreateObservableGauge(
            BreakerStateInstrument,
            ObserveBreakerState,
            unit: "{state}",
            description: "The store circuit breaker's state: 0 closed, 1 half-open, 2 open.");
        _meter.CreateObservableUpDownCounter(
            TrackedKeysInstrument,
            ObserveTrackedKeys,
            unit: "{key}",
            description: "Keys the in-memory stores (the configured one, and the local fallback) track exactly; at most MaxTrackedKeys each.");
        _overflowDecisions = _meter.CreateCounter<long>(
            OverflowDecisionsInstrument,
            unit: "{decision}",
            description: "Acquires on an in-memory store that decided a key in its approximate overflow count because the store was full.");
        _feedback = _meter.CreateCounter<long>(
            FeedbackInstrument,
            unit: "{event}",
            description: "Provider feedback events, by provider, kind and outcome (recorded, suppressed_by_provider, duplicate, store_unavailable).");
        _feedbackTags = _meter.CreateCounter<long>(
            FeedbackTagsInstrument,
            unit: "{event}",
            description: "Feedback events whose EmailGuard tags name a party, by provider and outcome of their signature check (verified, unsigned, invalid); only with tag signing keys. Unsigned and invalid tags name no one.");
        _feedbackNotSent = _meter.CreateCounter<long>(
            FeedbackNotSentInstrument,
            unit: "{event}",
            description: "Recorded feedback events about mail the provider never sent, by provider and outcome: left_out (of the sends of the parties the guard's record names), or why its send still counts (unsigned_tags, caller_attribution, no_record).");
        _breakerTrips = _meter.CreateCounter<long>(
            BreakerTripsInstrument,
            unit: "{trip}",
            description: "Ratio-breaker trips, by dimension, reason (high_bounce_rate, complaint_rate) and action (reduced, suspended, network_banned).");
        _contentVerdicts = _meter.CreateCounter<long>(
            ContentVerdictsInstrument,
            unit: "{verdict}",
            description: "Content-inspector verdicts that decided a send (allow, flag, deny), by how they came about (inspected, timeout, error).");
        _reservationWait = _meter.CreateHistogram<double>(
            ReservationWaitInstrument,
            unit: "s",
            description: "How far ahead each admitted send-guard reservation lies: how far the queue runs behind the provider's pace.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] });
    }

    /// <summary>
    /// Counts one decision. <paramref name="dimension"/> and <paramref name="policy"/> must come from configuration
    /// (dimension names, policy names), never from request data, to keep the tag cardinality low.
    /// </summary>
    public void RecordDecision(string dimension, string? policy, RateLimitStatus status)
    {
        if (_decisions.Enabled)
        {
            RecordDecisionCore(dimension, policy, OutcomeName(status));
        }
    }

    /// <summary>
    /// Counts one decision with an outcome that is not a store status, such as <c>blocked</c> for a blocklisted
    /// recipient. <paramref name="outcome"/> must be one of a small fixed set of constants.
    /// </summary>
    public void RecordDecision(string dimension, string? policy, string outcome)
    {
        if (_decisions.Enabled)
        {
            RecordDecisionCore(dimension, policy, outcome);
        }
    }

    public void RecordStoreCall(StoreOperation operation, StoreCallOutcome outcome, TimeSpan duration, Exception? exception)
    {
        if (_storeDuration.Enabled || (outcome != StoreCallOutcome.Success && _storeErrors.Enabled))
        {
            RecordStoreCallCore(operation, outcome, duration, exception);
        }
    }

    public void RecordFallback(StoreOperation operation, StoreFailureMode mode, bool circuitOpen)
    {
        if (_storeFallbacks.Enabled)
        {
            RecordFallbackCore(operation, mode, circuitOpen);
        }
    }

    public void RecordOverflowDecision(string store)
    {
        if (_overflowDecisions.Enabled)
        {
            RecordOverflowDecisionCore(store);
        }
    }

    /// <summary>Makes the tracked-keys instrument report this in-memory store, tagged with its name.</summary>
    public void ObserveInMemoryStore(InMemoryRateLimitStore store)
    {
        lock (_inMemoryStoresLock)
        {
            // One of each name: a provider has at most one of each, and a rebuilt one replaces its predecessor.
            InMemoryRateLimitStore[] stores = [.. _inMemoryStores.Where(s => s.Name != store.Name), store];
            Volatile.Write(ref _inMemoryStores, stores);
        }
    }

    /// <summary>Makes the breaker-state gauge report this breaker; the last store created in the provider wins.</summary>
    public void ObserveBreaker(StoreCircuitBreaker breaker) => Volatile.Write(ref _breaker, breaker);

    /// <summary>The EmailGuard meter, for components that keep their own instruments on it (the fair share).</summary>
    public Meter Meter => _meter;

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    internal static string OutcomeName(RateLimitStatus status) => status switch
    {
        RateLimitStatus.Allowed => "allowed",
        RateLimitStatus.LimitExceeded => "limit_exceeded",
        RateLimitStatus.StoreUnavailable => "store_unavailable",
        RateLimitStatus.AllowedUnguarded => "allowed_unguarded",
        _ => "unknown",
    };

    internal static string OperationName(StoreOperation operation) => operation switch
    {
        StoreOperation.Acquire => "acquire",
        StoreOperation.Peek => "peek",
        StoreOperation.Reserve => "reserve",
        _ => "refund",
    };

    internal static string FailureModeName(StoreFailureMode mode) => mode switch
    {
        StoreFailureMode.FailClosed => "fail_closed",
        StoreFailureMode.LocalFallback => "local_fallback",
        _ => "fail_open",
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordDecisionCore(string dimension, string? policy, string outcome)
    {
        TagList tags = default;
        tags.Add(DimensionTag, dimension);
        if (policy is not null)
        {
            tags.Add(PolicyTag, policy);
        }

        tags.Add(OutcomeTag, outcome);
        _decisions.Add(1, tags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordStoreCallCore(StoreOperation operation, StoreCallOutcome outcome, TimeSpan duration, Exception? exception)
    {
        TagList tags = default;
        tags.Add(OperationTag, OperationName(operation));
        if (outcome == StoreCallOutcome.Success)
        {
            _storeDuration.Record(duration.TotalSeconds, tags);
            return;
        }

        // error.type follows the OpenTelemetry convention: "timeout", or the exception's full type name (a bounded set).
        tags.Add(ErrorTypeTag, outcome == StoreCallOutcome.Timeout ? "timeout" : exception?.GetType().FullName ?? "_OTHER");
        _storeDuration.Record(duration.TotalSeconds, tags);
        _storeErrors.Add(1, tags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordFallbackCore(StoreOperation operation, StoreFailureMode mode, bool circuitOpen)
    {
        TagList tags = default;
        tags.Add(OperationTag, OperationName(operation));
        tags.Add(FailureModeTag, FailureModeName(mode));
        tags.Add(ReasonTag, circuitOpen ? "circuit_open" : "store_failure");
        _storeFallbacks.Add(1, tags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordOverflowDecisionCore(string store)
    {
        TagList tags = default;
        tags.Add(StoreNameTag, store);
        _overflowDecisions.Add(1, tags);
    }

    private IEnumerable<Measurement<int>> ObserveTrackedKeys()
        => Volatile.Read(ref _inMemoryStores).Select(static store => new Measurement<int>(store.TrackedKeys, new KeyValuePair<string, object?>(StoreNameTag, store.Name)));

    private IEnumerable<Measurement<int>> ObserveBreakerState()
    {
        StoreCircuitBreaker? breaker = Volatile.Read(ref _breaker);
        return breaker is null ? [] : [new Measurement<int>((int)breaker.State)];
    }
}
