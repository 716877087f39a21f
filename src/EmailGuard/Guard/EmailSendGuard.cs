using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// The send guard: validates and normalizes addresses, applies blocklists, allowlists and flags, then takes every
/// applicable rule of every dimension in one atomic acquire through the <see cref="ResilientRateLimitStore"/>.
/// </summary>
/// <remarks>
/// The hot path (cached addresses, cached tenant limits, empty lists) allocates nothing: request and result buffers are
/// pooled, keys are cached strings, the decision keeps its usage compact (<see cref="GuardUsage"/>) and builds its
/// attribution when read, the send counts for the ratio breakers ride in the same acquire, and the async methods
/// complete synchronously on the in-memory store.
/// </remarks>
internal sealed partial class EmailSendGuard : IEmailSendGuard, IEmailSendGuardCaps
{
    private readonly SendGuardOptions _options;

    // Swapped as a whole by a reload (SendGuardReload); read once per check (GuardBuffers.Caps).
    private volatile SendGuardCaps _caps;
    private readonly ResilientRateLimitStore _store;
    private readonly GuardStateCache _state;
    private readonly TenantLimitCache _tenantLimits;
    private readonly SendGuardKeys _keys;
    private readonly PartyScreen _screen;
    private readonly GuardPlanBuilder _plans;
    private readonly GuardStatusReader _status;
    private readonly ProviderBudgetReader _budget;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;
    private readonly EmailGuardEventRunner _events;
    private readonly SendGuardReload? _reload;

    public EmailSendGuard(
        IOptions<SendGuardOptions> options,
        ResilientRateLimitStore store,
        GuardStateCache state,
        TimeProvider timeProvider,
        ITenantLimitProvider? tenantLimitProvider = null,
        ILogger<EmailSendGuard>? logger = null,
        EmailGuardMetrics? metrics = null,
        IOptionsFactory<SendGuardOptions>? reloads = null,
        IConfiguration? configuration = null)
    {
        _metrics = metrics;
        _options = options.Value;
        SendGuardRules rules = new(_options);
        _store = store;
        _state = state;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _tenantLimits = new TenantLimitCache(
            tenantLimitProvider,
            _options.TenantLimitCacheDuration,
            timeProvider,
            _logger,
            store.Timeout,
            defaultWeight: _options.FairShare?.DefaultWeight ?? 1,
            lookupConcurrency: _options.TenantLimitLookupConcurrency);
        if (tenantLimitProvider is not null)
        {
            // Another instance's IEmailGuardTenantLimits call; a whole load cannot say which tenants it skipped, so
            // every answer is looked up again, served meanwhile as an expired one is: once a day, or when the change log
            // broke, on Redis; at every change on a store that reports none, where waiting on every lookup would be too dear.
            state.TenantLimitsChanged += InvalidateTenantLimits;
            state.LoadedWhole += _tenantLimits.ExpireAll;
        }
        _keys = new SendGuardKeys(_options);
        _screen = new PartyScreen(_options);
        _fairShare = FairShareTracker.Create(_options, rules, store, _tenantLimits, timeProvider, _logger, metrics);
        _caps = new SendGuardCaps(rules, new TenantPoolRules(_options, _logger));
        if (reloads is not null && configuration is not null)
        {
            _reload = new SendGuardReload(_options, _caps, reloads, configuration, globalFixed: _fairShare is not null, Apply, _logger);
        }

        _plans = new GuardPlanBuilder(_options, _keys, _fairShare);
        _status = new GuardStatusReader(_keys, state, _tenantLimits, store, timeProvider);
        _budget = new ProviderBudgetReader(_fairShare, store, timeProvider);
        _events = new EmailGuardEventRunner(_logger);
    }

    internal AddressKeyCache Addresses => _keys.Addresses;

    internal GuardStateCache State => _state;

    public ValueTask<EmailSendDecision> CheckAsync(OutboundEmail message, CancellationToken cancellationToken = default)
        => Committed(message, GuardOperation.Check, cancellationToken);

    /// <remarks>A pending peek's task may be pooled (<see cref="CompleteAsync"/>): an app may block on it, so it gets a Task instead.</remarks>
    public ValueTask<EmailSendDecision> PeekAsync(OutboundEmail message, CancellationToken cancellationToken = default)
        => PooledTasks.Blockable(EvaluateAsync(message, GuardOperation.Peek, null, cancellationToken));

    /// <summary>A check or a reservation: the counters, then the content steps, then the metrics and the checked event.</summary>
    /// <remarks>
    /// Returns the steps' answer as it is when nothing records it: a synchronous decision is a struct of some 250
    /// bytes, and every copy of it on the way up costs as much as a counter. Every method on the hot path keeps its
    /// rare answers in methods of their own (<see cref="CommittedRecorded"/>, <see cref="Refused"/>, ...): a decision
    /// held in a local holds references, so the method's frame zeroes it on every call whichever way the call goes,
    /// and a few of them cost more than the counters.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Committed(OutboundEmail message, GuardOperation operation, CancellationToken cancellationToken)
    {
        // Returns, not a conditional expression: the JIT gives a conditional's value a local of its own, zeroed on every call.
        if (_metrics is null && _options.Events.OnChecked is null)
        {
            return Steps(message, operation, cancellationToken);
        }

        return CommittedRecorded(message, operation, cancellationToken);
    }

    /// <summary><see cref="Committed"/> with the metrics or the checked event to record.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> CommittedRecorded(OutboundEmail message, GuardOperation operation, CancellationToken cancellationToken)
    {
        ValueTask<EmailSendDecision> pending = Steps(message, operation, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return RecordAsync(message, pending);
        }

        // Read once and handed on as a new value: a ValueTask may be consumed only once.
        EmailSendDecision decided = pending.Result;
        Record(message, decided);
        return new(decided);
    }

    /// <summary>The counters, then the content and fan-out steps when the message or the options have any.</summary>
    /// <remarks>Not inlined: an inlined method's answer goes through a local of the caller's, zeroed and then copied.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Steps(OutboundEmail message, GuardOperation operation, CancellationToken cancellationToken)
    {
        if (HasContentSteps(message) || _fanOut is not null)
        {
            return StepsAfterCounters(message, operation, cancellationToken);
        }

        return EvaluateAsync(message, operation, null, cancellationToken);
    }

    /// <remarks>
    /// The steps after the counters wait on stores too, after the buffers (and their budget) went back to the pool, so
    /// the check brings a budget of its own that every step shares.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> StepsAfterCounters(OutboundEmail message, GuardOperation operation, CancellationToken cancellationToken)
    {
        StoreTimeBudget budget = new(_store.Timeout, _timeProvider);
        return WithFanOut(message, WithContentSteps(message, EvaluateAsync(message, operation, budget, cancellationToken), budget, cancellationToken), budget);
    }

    public ValueTask<EmailGuardStatus> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default)
        => _status.GetAsync(query, Sends, _caps, cancellationToken);

    public ValueTask<EmailProviderBudget> GetProviderBudgetAsync(CancellationToken cancellationToken = default)
        => _budget.ReadAsync(_caps.Rules, cancellationToken);
}
