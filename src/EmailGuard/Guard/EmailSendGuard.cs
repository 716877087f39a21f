// Over 300 lines on purpose: the check pipeline (validate, load state, screen, tenant limits, acquire) reads in one place; each step's logic is in its own type.
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

    /// <remarks>
    /// The buffers go down the pipeline with the check: each step that is handed them (<see cref="Decide"/>,
    /// <see cref="Acquire"/>, <see cref="Complete"/>, and the asynchronous continuations) hands them back on every way
    /// out. No step wraps the next in a try/finally, so a synchronous decision (a struct of some 250 bytes) is written
    /// once and passed up through the return values instead of being copied at every step. Not inlined: inlined into
    /// <see cref="Steps"/>, the decision <see cref="Decide"/> returned went to a local of <see cref="Steps"/> (a 584-byte
    /// frame, 384 bytes of it zeroed on every check) and was copied from there into its return buffer, a 280-byte move
    /// with write barriers; called, it returns straight into the buffer its caller was handed.
    /// </remarks>
    /// <param name="message">The message.</param>
    /// <param name="operation">Check, reservation or peek.</param>
    /// <param name="budget">The check's store time budget when the steps after the counters share it; null for one of the buffers' own.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> EvaluateAsync(OutboundEmail message, GuardOperation operation, StoreTimeBudget? budget, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int given = message.RecipientCount;
        if (given == 0)
        {
            return Refused(message, EmailSendReason.NoRecipients, EmailGuardDimension.Recipient, null, "The message has no recipient.");
        }

        int max = _options.MaxRecipientsPerMessage;
        if (given > 4 * max || given < 0)
        {
            return TooManyRecipientsNow(message, given);
        }

        if (GuardPartyIds.FindInvalid(message) is not EmailGuardDimension.None and EmailGuardDimension invalid)
        {
            return PartyIdInvalidNow(message, invalid);
        }

        GuardBuffers buffers = GuardBuffers.Rent();
        buffers.Caps = _caps;
        StoreTimeBudget checkBudget = buffers.StartBudget(budget, _store.Timeout, _timeProvider);

        // Environment.TickCount64 (see SendGuardKeys.NowMs): the state cache and the in-memory store take it too.
        long keysNow = _keys.NowMs();
        buffers.KeysNowMs = keysNow;
        buffers.EnsureRecipients(given);
        GuardPartyMemo parties = buffers.Parties.For(_keys);
        for (int i = 0; i < given; i++)
        {
            string? raw = message.GetRecipient(i);
            GuardAddress address = i == 0 ? _keys.Addresses.Get(raw, keysNow, ref parties.Recipient) : _keys.Addresses.Get(raw, keysNow);
            if (!address.IsValid)
            {
                buffers.Return();
                return Refused(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Recipient, raw ?? string.Empty, address.Error);
            }

            // The first mail past the bound decides: the rest of a hostile list is not parsed.
            if (buffers.AddDelivery(address, raw!) && buffers.DeliveryCount > max)
            {
                buffers.Return();
                return TooManyRecipientsNow(message, given);
            }
        }

        GuardAddress? sender = null;
        if (message.Sender is { } rawSender)
        {
            sender = _keys.Addresses.Get(rawSender, keysNow, ref parties.Sender);
            if (!sender.IsValid)
            {
                buffers.Return();
                return Refused(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Sender, rawSender, sender.Error);
            }
        }

        ValueTask<GuardStateSnapshot?> pendingState = _state.GetAsync(keysNow, checkBudget, cancellationToken);
        if (!pendingState.IsCompletedSuccessfully)
        {
            return DecideAfterStateAsync(pendingState, message, buffers, sender, operation, cancellationToken);
        }

        return Decide(message, buffers, sender, pendingState.Result, operation, cancellationToken);
    }

    private async ValueTask<EmailSendDecision> DecideAfterStateAsync(
        ValueTask<GuardStateSnapshot?> pendingState, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardOperation operation, CancellationToken cancellationToken)
    {
        GuardStateSnapshot? state;
        try
        {
            state = await pendingState.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        buffers.KeysNowMs = _keys.NowMs();

        return await Decide(message, buffers, sender, state, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists and flags, then the counters. Synchronous unless the tenant limits or the store are not at hand. Takes
    /// <paramref name="buffers"/> and hands them back, synchronously or when the returned task completes.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Decide(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardStateSnapshot? state, GuardOperation operation, CancellationToken cancellationToken)
    {
        if (state is null)
        {
            // Lists and flags were never loaded (the state store has not answered since startup): a blocklisted or
            // suspended party cannot be recognised, so the failure mode decides, as for the counters.
            if (_options.FailureMode == StoreFailureMode.FailClosed)
            {
                buffers.Return();
                return StateUnavailableNow(message);
            }

            state = GuardStateSnapshot.Empty;
        }

        string? tenant = message.TenantId;
        GuardPlan plan = new(EmailGuardDimension.None, null, 1, 1);
        if (state.HasBlocks || state.HasFlags || state.HasAllows)
        {
            DateTimeOffset now = _timeProvider.GetUtcNow();
            if (_screen.Screen(message, buffers.Recipients, buffers.RecipientCount, sender, state, now, out plan) is { } denial)
            {
                buffers.Return();
                return ScreenedOut(message, denial, now);
            }
        }

        // The tenant's rules and pool, from one provider answer; none looked up, a tenant has no rules and the default pool.
        // An allowlisted tenant skips its rules and its pool's, but its pool is looked up all the same: its sends count
        // in its pool's ratios, as its bounces come back and the provider rates them.
        TenantLimitAnswer tenantLimits = TenantLimitAnswer.None;
        SendGuardCaps caps = buffers.Caps;
        if (tenant is not null && ((plan.Skip & EmailGuardDimension.Tenant) == 0 ? caps.Rules.Tenant.Length != 0 || _tenantLimits.HasProvider : caps.Pools.Any && _tenantLimits.HasProvider))
        {
            ValueTask<TenantLimitAnswer> pending = _tenantLimits.GetAnswerAsync(tenant, caps.Rules.Tenant, buffers.Budget, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return AcquireAfterTenantLimitsAsync(pending, message, buffers, sender, plan, state, operation, cancellationToken);
            }

            tenantLimits = pending.Result;
        }

        if (caps.Pools.Any && state.HasFlags && tenant is not null && ScreenPool(caps.Pools, tenantLimits, state, ref plan) is { } poolDenial)
        {
            buffers.Return();
            return ScreenedOut(message, poolDenial, _timeProvider.GetUtcNow());
        }

        return Acquire(message, buffers, sender, tenantLimits, plan, operation, cancellationToken);
    }

    private async ValueTask<EmailSendDecision> AcquireAfterTenantLimitsAsync(
        ValueTask<TenantLimitAnswer> pending, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardPlan plan, GuardStateSnapshot state, GuardOperation operation,
        CancellationToken cancellationToken)
    {
        TenantLimitAnswer tenantLimits;
        try
        {
            tenantLimits = await pending.ConfigureAwait(false);
        }
        catch
        {
            buffers.Return();
            throw;
        }

        buffers.KeysNowMs = _keys.NowMs();
        if (buffers.Caps.Pools.Any && state.HasFlags && ScreenPool(buffers.Caps.Pools, tenantLimits, state, ref plan) is { } poolDenial)
        {
            buffers.Return();
            return await ScreenedOut(message, poolDenial, _timeProvider.GetUtcNow()).ConfigureAwait(false);
        }

        return await Acquire(message, buffers, sender, tenantLimits, plan, operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The counters: builds the plan of keys and takes them in one store call. Takes <paramref name="buffers"/> and hands them back.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> Acquire(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, TenantLimitAnswer tenantLimits, GuardPlan plan, GuardOperation operation, CancellationToken cancellationToken)
    {
        ValueTask preparing = PrepareFairShare(message, plan, operation != GuardOperation.Peek, buffers.Budget, cancellationToken);
        if (!preparing.IsCompletedSuccessfully)
        {
            return AcquireAfterFairShareAsync(preparing, message, buffers, sender, tenantLimits, plan, operation, cancellationToken);
        }

        if (!_plans.TryBuild(message, buffers, sender, tenantLimits, plan, out int messageWide, out int perRecipient))
        {
            int recipientCount = buffers.RecipientCount;
            buffers.Return();
            return TooLargeForRulesNow(message, recipientCount, messageWide, perRecipient);
        }

        int count = buffers.RequestCount;
        if (operation != GuardOperation.Peek && Sends is { } sends && count + EmailGuardFeedback.MaxSendCounts <= RateLimitValidation.MaxRequestsPerCall)
        {
            // The ratio breakers' count of this send rides in the same atomic acquire or reservation: counted exactly
            // when admitted, for no round trip of its own, once per mail the provider delivers (each way a recipient is
            // written, as the caps count and as bounces come back). Its counters have no practical limit (MaxLimit), so they
            // never deny the message, and a reservation counts them at its decision's time whatever time it reserves.
            buffers.EnsureRequests(count + EmailGuardFeedback.MaxSendCounts);
            string? clientPartition = message.ClientIp is { } ip ? _keys.ClientIps.Get(ip).Partition : null;

            // The pool's flags were read only when the tenant's rules were (ScreenPool): for a tenant the allowlist skips,
            // they were not, and its mail's bounces still count as the half-open pool's probe failures, so its sends
            // must count as the probe's sends too, or its ordinary bounces alone kept its pool from recovering.
            buffers.ExtraRequestCount = sends.WriteSendCounts(
                message, buffers.TenantPool?.Name, sender?.Address, clientPartition, buffers.DeliveryCount, buffers.Requests.AsSpan(count, EmailGuardFeedback.MaxSendCounts),
                poolHeld: plan.PoolFactor < 1 || (plan.Skip & EmailGuardDimension.Tenant) != 0);
            count += buffers.ExtraRequestCount;
        }

        ReadOnlyMemory<RateLimitRequest> batch = buffers.Requests.AsMemory(0, count);
        Memory<RateLimitEntry> results = buffers.Entries.AsMemory(0, count);
        if (operation == GuardOperation.Check && _store.IsLocal && !cancellationToken.IsCancellationRequested)
        {
            // The in-memory store answers at once, with a decision that is no task (see AcquireLocal).
            RateLimitDecision decided = _store.AcquireLocal(batch, results, buffers.KeysNowMs, _options.FailureMode, cancellationToken);
            return Complete(message, decided, buffers, operation);
        }

        return AcquireFromStore(message, buffers, batch, results, operation, cancellationToken);
    }

    /// <summary>The counters' store call through a task: a store other than the in-memory one, a reservation or a peek, or a cancelled caller.</summary>
    /// <remarks>Not inlined: the store's task and its result would be locals of <see cref="Acquire"/>, zeroed on every check.</remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ValueTask<EmailSendDecision> AcquireFromStore(
        OutboundEmail message, GuardBuffers buffers, ReadOnlyMemory<RateLimitRequest> batch, Memory<RateLimitEntry> results, GuardOperation operation, CancellationToken cancellationToken)
    {
        ValueTask<RateLimitDecision> pending = CallStore(operation, batch, results, buffers.Budget, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return CompleteAsync(pending, message, buffers, operation);
        }

        return Complete(message, pending.Result, buffers, operation);
    }
}
