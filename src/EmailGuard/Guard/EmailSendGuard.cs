using System.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EmailGuard;

/// <summary>
/// The send guard: validates and normalizes addresses, applies blocklists, allowlists and flags, then takes every
/// applicable rule of every dimension in one atomic acquire through the <see cref="ResilientRateLimitStore"/>.
/// </summary>
/// <remarks>
/// The hot path (cached addresses, cached tenant limits, empty lists) allocates only the decision's usage array:
/// request and result buffers are pooled, keys are cached strings, and the async methods complete synchronously on the
/// in-memory store.
/// </remarks>
internal sealed partial class EmailSendGuard : IEmailSendGuard
{
    private static readonly TimeSpan s_stateUnavailableRetryAfter = TimeSpan.FromSeconds(1);

    private readonly SendGuardOptions _options;
    private readonly SendGuardRules _rules;
    private readonly ResilientRateLimitStore _store;
    private readonly GuardStateCache _state;
    private readonly TenantLimitCache _tenantLimits;
    private readonly AddressKeyCache _addresses;
    private readonly IdKeyCache _tenantKeys = new(PartitionKeys.TenantPrefix);
    private readonly IdKeyCache _userKeys = new(PartitionKeys.UserPrefix);
    private readonly IdKeyCache _categoryKeys = new(PartitionKeys.CategoryPrefix, lowerCase: true);
    private readonly ClientIpKeyCache _ipKeys;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;

    public EmailSendGuard(
        IOptions<SendGuardOptions> options,
        ResilientRateLimitStore store,
        GuardStateCache state,
        TimeProvider timeProvider,
        ITenantLimitProvider? tenantLimitProvider = null,
        ILogger<EmailSendGuard>? logger = null,
        EmailGuardMetrics? metrics = null)
    {
        _metrics = metrics;
        _options = options.Value;
        _rules = new SendGuardRules(_options);
        _store = store;
        _state = state;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _tenantLimits = new TenantLimitCache(tenantLimitProvider, _options.TenantLimitCacheDuration, timeProvider, _logger, store.Timeout);
        _addresses = new AddressKeyCache(_options.AddressNormalization);
        _ipKeys = new ClientIpKeyCache(_options.ClientIpv6PrefixLength);
    }

    internal AddressKeyCache Addresses => _addresses;

    internal TenantLimitCache TenantLimits => _tenantLimits;

    internal GuardStateCache State => _state;

    public ValueTask<EmailSendDecision> CheckAsync(OutboundEmail message, CancellationToken cancellationToken = default)
    {
        ValueTask<EmailSendDecision> pending = EvaluateAsync(message, commit: true, cancellationToken);
        if (_metrics is null && _options.Events.OnChecked is null)
        {
            return pending;
        }

        if (pending.IsCompletedSuccessfully)
        {
            Record(message, pending.Result);
            return pending;
        }

        return RecordAsync(message, pending);
    }

    public ValueTask<EmailSendDecision> PeekAsync(OutboundEmail message, CancellationToken cancellationToken = default)
        => EvaluateAsync(message, commit: false, cancellationToken);

    public async ValueTask<bool> RefundAsync(EmailSendDecision decision, CancellationToken cancellationToken = default)
    {
        if (!decision.IsRefundable)
        {
            return false;
        }

        EmailSendRuleUsage[] usage = decision.UsageArray!;
        RateLimitRequest[] requests = ArrayPool<RateLimitRequest>.Shared.Rent(usage.Length);
        try
        {
            for (int i = 0; i < usage.Length; i++)
            {
                requests[i] = usage[i].Request;
            }

            return await _store.TryRefundAsync(requests.AsMemory(0, usage.Length), decision.Acquisition, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<RateLimitRequest>.Shared.Return(requests, clearArray: true);
        }
    }

    public async ValueTask<EmailGuardStatus> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        GuardStateSnapshot state = await _state.GetAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new EmailGuardStoreUnavailableException(
                "The EmailGuard state store has not answered since the app started, so the flags of the queried parties are unknown.");
        DateTimeOffset now = _timeProvider.GetUtcNow();
        List<RateLimitRequest> requests = [];
        List<RequestTag> tags = [];
        List<EmailGuardFlag> flags = [];
        string? invalid = null;

        void Add(RateLimitRule[] rules, string key, EmailGuardDimension dimension, string? partition, string? recipient = null)
        {
            foreach (RateLimitRule rule in rules)
            {
                requests.Add(new RateLimitRequest(key, rule, 0));
                tags.Add(new RequestTag(dimension, partition, recipient));
            }
        }

        Add(_rules.Global, PartitionKeys.Global, EmailGuardDimension.Global, null);
        if (query.TenantId is { } tenant)
        {
            FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.Tenant, tenant, now);
            RateLimitRule[] rules = await _tenantLimits.GetAsync(tenant, _rules.Tenant, cancellationToken).ConfigureAwait(false);
            Add(SendGuardRules.Reduce(rules, effect.LimitFactor), _tenantKeys.Get(tenant), EmailGuardDimension.Tenant, tenant);
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.Tenant, tenant, now));
        }

        if (query.Sender is { } rawSender)
        {
            GuardAddress sender = _addresses.Get(rawSender);
            if (sender.IsValid)
            {
                Add(_rules.Sender, sender.SenderKey, EmailGuardDimension.Sender, sender.Address);
            }
            else
            {
                invalid = rawSender;
            }
        }

        if (query.UserId is { } user)
        {
            FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.User, user, now);
            Add(SendGuardRules.Reduce(_rules.User, effect.LimitFactor), _userKeys.Get(user), EmailGuardDimension.User, user);
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.User, user, now));
        }

        if (query.ClientIp is { } ip)
        {
            (string partition, string key) = _ipKeys.Get(ip);
            Add(_rules.ClientIp, key, EmailGuardDimension.ClientIp, partition);
        }

        if (query.Category is { } category)
        {
            Add(_rules.ForCategory(category), _categoryKeys.Get(category), EmailGuardDimension.Category, category);
        }

        if (query.Recipient is { } rawRecipient)
        {
            GuardAddress recipient = _addresses.Get(rawRecipient);
            if (recipient.IsValid)
            {
                Add(_rules.Recipient, recipient.RecipientKey, EmailGuardDimension.Recipient, recipient.Address, recipient.Address);
                Add(_rules.RecipientDomain, recipient.DomainKey, EmailGuardDimension.RecipientDomain, recipient.Domain, recipient.Address);
            }
            else
            {
                invalid = rawRecipient;
            }
        }

        RateLimitRequest[] requestArray = [.. requests];
        RateLimitEntry[] entries = new RateLimitEntry[requestArray.Length];
        RateLimitDecision decision = await _store.PeekAsync(requestArray, entries, cancellationToken).ConfigureAwait(false);
        bool available = decision.Status != RateLimitStatus.StoreUnavailable;
        EmailSendRuleUsage[] usage = available ? new EmailSendRuleUsage[requestArray.Length] : [];
        for (int i = 0; i < usage.Length; i++)
        {
            usage[i] = new EmailSendRuleUsage(tags[i].Dimension, tags[i].Partition, requestArray[i], entries[i]);
        }

        return new EmailGuardStatus(usage, flags, available ? decision.Timestamp : now, available, invalid);
    }

    private async ValueTask<EmailSendDecision> RecordAsync(OutboundEmail message, ValueTask<EmailSendDecision> pending)
    {
        EmailSendDecision decision = await pending.ConfigureAwait(false);
        Record(message, decision);
        return decision;
    }

    private void Record(OutboundEmail message, in EmailSendDecision decision)
    {
        _metrics?.RecordDecision(SendGuardMetricNames.Dimension(decision.Dimension), SendGuardMetricNames.Policy, SendGuardMetricNames.Outcome(decision.Reason));
        if (_options.Events.OnChecked is { } onChecked)
        {
            try
            {
                onChecked(new EmailGuardCheckEvent(message, decision));
            }
            catch (Exception ex)
            {
                LogEventCallbackFailed(_logger, ex);
            }
        }
    }

    private ValueTask<EmailSendDecision> EvaluateAsync(OutboundEmail message, bool commit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int given = message.RecipientCount;
        if (given == 0)
        {
            return new(Refuse(message, EmailSendReason.NoRecipients, EmailGuardDimension.Recipient, null, null, null, "The message has no recipient."));
        }

        int max = _options.MaxRecipientsPerMessage;
        if (given > 4 * max || given < 0)
        {
            return new(TooManyRecipients(message, given));
        }

        GuardBuffers buffers = GuardBuffers.Rent();
        bool handedOff = false;
        try
        {
            buffers.EnsureRecipients(given);
            GuardAddress[] recipients = buffers.Recipients;
            int distinct = 0;
            for (int i = 0; i < given; i++)
            {
                string? raw = message.GetRecipient(i);
                GuardAddress address = _addresses.Get(raw);
                if (!address.IsValid)
                {
                    return new(Refuse(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Recipient, null, null, raw ?? string.Empty, address.Error));
                }

                if (!Contains(recipients, distinct, address))
                {
                    recipients[distinct++] = address;
                    buffers.RecipientCount = distinct;
                }
            }

            if (distinct > max)
            {
                return new(TooManyRecipients(message, distinct));
            }

            GuardAddress? sender = null;
            if (message.Sender is { } rawSender)
            {
                sender = _addresses.Get(rawSender);
                if (!sender.IsValid)
                {
                    return new(Refuse(message, EmailSendReason.InvalidAddress, EmailGuardDimension.Sender, null, null, rawSender, sender.Error));
                }
            }

            ValueTask<GuardStateSnapshot?> pendingState = _state.GetAsync(cancellationToken);
            if (!pendingState.IsCompletedSuccessfully)
            {
                handedOff = true;
                return DecideAfterStateAsync(pendingState, message, buffers, sender, commit, cancellationToken);
            }

            return Decide(message, buffers, sender, pendingState.Result, commit, cancellationToken, out handedOff);
        }
        finally
        {
            if (!handedOff)
            {
                buffers.Return();
            }
        }
    }

    private async ValueTask<EmailSendDecision> DecideAfterStateAsync(
        ValueTask<GuardStateSnapshot?> pendingState, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, bool commit, CancellationToken cancellationToken)
    {
        bool handedOff = false;
        try
        {
            GuardStateSnapshot? state = await pendingState.ConfigureAwait(false);
            ValueTask<EmailSendDecision> decision = Decide(message, buffers, sender, state, commit, cancellationToken, out handedOff);
            return await decision.ConfigureAwait(false);
        }
        finally
        {
            if (!handedOff)
            {
                buffers.Return();
            }
        }
    }

    /// <summary>
    /// Lists and flags, then the counters. Synchronous unless the tenant limits or the store are not at hand; then the
    /// returned task owns <paramref name="buffers"/> (<paramref name="handedOff"/>) and hands them back itself.
    /// </summary>
    private ValueTask<EmailSendDecision> Decide(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardStateSnapshot? state, bool commit, CancellationToken cancellationToken, out bool handedOff)
    {
        handedOff = false;
        if (state is null)
        {
            // Lists and flags were never loaded (the state store has not answered since startup): a blocklisted or
            // suspended party cannot be recognised, so the failure mode decides, as for the counters.
            if (_options.FailureMode == StoreFailureMode.FailClosed)
            {
                LogStoreUnavailable(_logger, message.TenantId);
                return new(new EmailSendDecision(
                    EmailSendReason.StoreUnavailable, EmailGuardDimension.None, null, null, null, "The blocklists and flags could not be loaded.",
                    s_stateUnavailableRetryAfter, _timeProvider.GetUtcNow(), null));
            }

            state = GuardStateSnapshot.Empty;
        }

        GuardAddress[] recipients = buffers.Recipients;
        int distinct = buffers.RecipientCount;
        string? tenant = message.TenantId;
        string? user = message.UserId;
        GuardPlan plan = new(EmailGuardDimension.None, null, 1, 1);
        if (state.HasBlocks || state.HasFlags || state.HasAllows)
        {
            DateTimeOffset now = _timeProvider.GetUtcNow();
            if (state.HasBlocks && CheckBlocklist(message, recipients, distinct, sender, state, now) is { } blocked)
            {
                return new(blocked);
            }

            FlagEffect tenantFlag = FlagEffect.None;
            FlagEffect userFlag = FlagEffect.None;
            if (state.HasFlags)
            {
                tenantFlag = state.GetFlagEffect(EmailGuardPartyType.Tenant, tenant, now);
                if (tenantFlag.Suspension is { } tenantSuspension)
                {
                    return new(Suspended(message, EmailGuardDimension.Tenant, tenant!, tenantSuspension, now));
                }

                userFlag = state.GetFlagEffect(EmailGuardPartyType.User, user, now);
                if (userFlag.Suspension is { } userSuspension)
                {
                    return new(Suspended(message, EmailGuardDimension.User, user!, userSuspension, now));
                }
            }

            (EmailGuardDimension skip, EmailGuardDimension[]? recipientSkips) = state.HasAllows
                ? AllowlistSkips(message, recipients, distinct, sender, state, now)
                : (EmailGuardDimension.None, null);
            plan = new GuardPlan(skip, recipientSkips, tenantFlag.LimitFactor, userFlag.LimitFactor);
        }

        RateLimitRule[] tenantRules = [];
        if (tenant is not null && (plan.Skip & EmailGuardDimension.Tenant) == 0 && (_rules.Tenant.Length != 0 || _tenantLimits.HasProvider))
        {
            ValueTask<RateLimitRule[]> pending = _tenantLimits.GetAsync(tenant, _rules.Tenant, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                handedOff = true;
                return AcquireAfterTenantLimitsAsync(pending, message, buffers, sender, plan, commit, cancellationToken);
            }

            tenantRules = pending.Result;
        }

        return Acquire(message, buffers, sender, tenantRules, plan, commit, cancellationToken, out handedOff);
    }

    private async ValueTask<EmailSendDecision> AcquireAfterTenantLimitsAsync(
        ValueTask<RateLimitRule[]> pending, OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, GuardPlan plan, bool commit, CancellationToken cancellationToken)
    {
        bool handedOff = false;
        try
        {
            RateLimitRule[] tenantRules = await pending.ConfigureAwait(false);
            ValueTask<EmailSendDecision> decision = Acquire(message, buffers, sender, tenantRules, plan, commit, cancellationToken, out handedOff);
            return await decision.ConfigureAwait(false);
        }
        finally
        {
            if (!handedOff)
            {
                buffers.Return();
            }
        }
    }

    private ValueTask<EmailSendDecision> Acquire(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, RateLimitRule[] tenantRules, GuardPlan plan, bool commit, CancellationToken cancellationToken, out bool handedOff)
    {
        EmailGuardDimension skip = plan.Skip;
        GuardAddress[] recipients = buffers.Recipients;
        int distinct = buffers.RecipientCount;
        tenantRules = SendGuardRules.Reduce(tenantRules, plan.TenantFactor);
        RateLimitRule[] globalRules = Use(_rules.Global, EmailGuardDimension.Global, skip, true);
        RateLimitRule[] senderRules = Use(_rules.Sender, EmailGuardDimension.Sender, skip, sender is not null);
        RateLimitRule[] userRules = SendGuardRules.Reduce(Use(_rules.User, EmailGuardDimension.User, skip, message.UserId is not null), plan.UserFactor);
        RateLimitRule[] ipRules = Use(_rules.ClientIp, EmailGuardDimension.ClientIp, skip, message.ClientIp is not null);
        RateLimitRule[] categoryRules = message.Category is { } category ? Use(_rules.ForCategory(category), EmailGuardDimension.Category, skip, true) : [];
        RateLimitRule[] recipientRules = _rules.Recipient;
        RateLimitRule[] domainRules = _rules.RecipientDomain;

        int messageWide = globalRules.Length + tenantRules.Length + senderRules.Length + userRules.Length + ipRules.Length + categoryRules.Length;
        int perRecipient = recipientRules.Length + domainRules.Length;
        if (messageWide + ((long)distinct * perRecipient) > RateLimitValidation.MaxRequestsPerCall)
        {
            handedOff = false;
            return new(TooLargeForRules(message, distinct, messageWide, perRecipient));
        }

        buffers.EnsureRequests(messageWide + (distinct * perRecipient));
        RateLimitRequest[] requests = buffers.Requests;
        RequestTag[] tags = buffers.Tags;
        int count = 0;
        long cost = distinct;
        Add(requests, tags, ref count, globalRules, PartitionKeys.Global, cost, new RequestTag(EmailGuardDimension.Global, null, null));
        if (tenantRules.Length != 0)
        {
            Add(requests, tags, ref count, tenantRules, _tenantKeys.Get(message.TenantId!), cost, new RequestTag(EmailGuardDimension.Tenant, message.TenantId, null));
        }

        if (senderRules.Length != 0)
        {
            Add(requests, tags, ref count, senderRules, sender!.SenderKey, cost, new RequestTag(EmailGuardDimension.Sender, sender.Address, null));
        }

        if (userRules.Length != 0)
        {
            Add(requests, tags, ref count, userRules, _userKeys.Get(message.UserId!), cost, new RequestTag(EmailGuardDimension.User, message.UserId, null));
        }

        if (ipRules.Length != 0)
        {
            (string partition, string key) = _ipKeys.Get(message.ClientIp!);
            Add(requests, tags, ref count, ipRules, key, cost, new RequestTag(EmailGuardDimension.ClientIp, partition, null));
        }

        if (categoryRules.Length != 0)
        {
            Add(requests, tags, ref count, categoryRules, _categoryKeys.Get(message.Category!), cost, new RequestTag(EmailGuardDimension.Category, message.Category, null));
        }

        if (recipientRules.Length != 0 || domainRules.Length != 0)
        {
            AddRecipients(requests, tags, ref count, recipients, distinct, plan.RecipientSkips, recipientRules, domainRules);
        }

        buffers.RequestCount = count;
        ReadOnlyMemory<RateLimitRequest> batch = requests.AsMemory(0, count);
        Memory<RateLimitEntry> results = buffers.Entries.AsMemory(0, count);
        ValueTask<RateLimitDecision> pending = commit
            ? _store.AcquireAsync(batch, results, _options.FailureMode, cancellationToken)
            : _store.PeekAsync(batch, results, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            handedOff = true;
            return CompleteAsync(pending, message, buffers, commit);
        }

        handedOff = false;
        return new(Complete(message, pending.Result, buffers, commit));
    }

    private async ValueTask<EmailSendDecision> CompleteAsync(ValueTask<RateLimitDecision> pending, OutboundEmail message, GuardBuffers buffers, bool commit)
    {
        try
        {
            RateLimitDecision decision = await pending.ConfigureAwait(false);
            return Complete(message, decision, buffers, commit);
        }
        finally
        {
            buffers.Return();
        }
    }

    private EmailSendDecision Complete(OutboundEmail message, RateLimitDecision decision, GuardBuffers buffers, bool commit)
    {
        RateLimitRequest[] requests = buffers.Requests;
        RateLimitEntry[] entries = buffers.Entries;
        RequestTag[] tags = buffers.Tags;
        int count = buffers.RequestCount;
        switch (decision.Status)
        {
            case RateLimitStatus.StoreUnavailable:
                LogStoreUnavailable(_logger, message.TenantId);
                return new EmailSendDecision(EmailSendReason.StoreUnavailable, EmailGuardDimension.None, null, null, null, "The rate-limit store is unavailable.", decision.RetryAfter, _timeProvider.GetUtcNow(), null);
            case RateLimitStatus.AllowedUnguarded:
                return new EmailSendDecision(EmailSendReason.AllowedUnguarded, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, _timeProvider.GetUtcNow(), null);
        }

        EmailSendRuleUsage[]? usage = count == 0 ? null : new EmailSendRuleUsage[count];
        for (int i = 0; i < count; i++)
        {
            usage![i] = new EmailSendRuleUsage(tags[i].Dimension, tags[i].Partition, requests[i], entries[i]);
        }

        if (decision.Status == RateLimitStatus.Allowed)
        {
            if (commit && _options.Events.OnNearLimit is { } onNearLimit && usage is not null)
            {
                RaiseNearLimit(onNearLimit, message, usage);
            }

            return new EmailSendDecision(EmailSendReason.Allowed, EmailGuardDimension.None, null, null, null, null, TimeSpan.Zero, decision.Timestamp, usage, decision);
        }

        int denied = Math.Clamp(decision.DeniedIndex, 0, Math.Max(0, count - 1));
        RequestTag tag = count == 0 ? default : tags[denied];
        if (commit)
        {
            LogLimitExceeded(_logger, tag.Dimension, message.TenantId, message.UserId, decision.RetryAfter);
            if (_options.Events.OnLimitExceeded is { } onLimitExceeded && usage is not null)
            {
                Raise(onLimitExceeded, new EmailGuardLimitEvent(message, usage[denied]));
            }
        }

        return new EmailSendDecision(
            EmailSendReason.LimitExceeded, tag.Dimension, tag.Partition, tag.Recipient, null, null, decision.RetryAfter, decision.Timestamp, usage);
    }

    private static void Add(RateLimitRequest[] requests, RequestTag[] tags, ref int count, RateLimitRule[] rules, string key, long cost, RequestTag tag)
    {
        foreach (RateLimitRule rule in rules)
        {
            requests[count] = new RateLimitRequest(key, rule, cost);
            tags[count] = tag;
            count++;
        }
    }

    private void AddRecipients(
        RateLimitRequest[] requests,
        RequestTag[] tags,
        ref int count,
        GuardAddress[] recipients,
        int distinct,
        EmailGuardDimension[]? recipientSkips,
        RateLimitRule[] recipientRules,
        RateLimitRule[] domainRules)
    {
        bool countEach = _options.CountEachRecipientAgainstDomain;
        for (int i = 0; i < distinct; i++)
        {
            GuardAddress recipient = recipients[i];
            EmailGuardDimension skip = recipientSkips?[i] ?? EmailGuardDimension.None;
            if ((skip & EmailGuardDimension.Recipient) == 0)
            {
                Add(requests, tags, ref count, recipientRules, recipient.RecipientKey, 1, new RequestTag(EmailGuardDimension.Recipient, recipient.Address, recipient.Address));
            }

            if (domainRules.Length == 0 || (skip & EmailGuardDimension.RecipientDomain) != 0 || DomainCountedBefore(recipients, recipientSkips, i))
            {
                continue;
            }

            long domainCost = 1;
            if (countEach)
            {
                for (int j = i + 1; j < distinct; j++)
                {
                    if (SameDomain(recipients[j], recipient) && ((recipientSkips?[j] ?? EmailGuardDimension.None) & EmailGuardDimension.RecipientDomain) == 0)
                    {
                        domainCost++;
                    }
                }
            }

            Add(requests, tags, ref count, domainRules, recipient.DomainKey, domainCost, new RequestTag(EmailGuardDimension.RecipientDomain, recipient.Domain, recipient.Address));
        }
    }

    private static bool DomainCountedBefore(GuardAddress[] recipients, EmailGuardDimension[]? recipientSkips, int index)
    {
        for (int j = 0; j < index; j++)
        {
            if (SameDomain(recipients[j], recipients[index]) && ((recipientSkips?[j] ?? EmailGuardDimension.None) & EmailGuardDimension.RecipientDomain) == 0)
            {
                return true;
            }
        }

        return false;
    }

    private static bool SameDomain(GuardAddress a, GuardAddress b) => string.Equals(a.Domain, b.Domain, StringComparison.Ordinal);

    private static bool Contains(GuardAddress[] recipients, int count, GuardAddress address)
    {
        for (int i = 0; i < count; i++)
        {
            if (ReferenceEquals(recipients[i], address) || string.Equals(recipients[i].Address, address.Address, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static RateLimitRule[] Use(RateLimitRule[] rules, EmailGuardDimension dimension, EmailGuardDimension skip, bool applies)
        => applies && (skip & dimension) == 0 ? rules : [];

    private EmailSendDecision? CheckBlocklist(OutboundEmail message, GuardAddress[] recipients, int distinct, GuardAddress? sender, GuardStateSnapshot state, DateTimeOffset now)
    {
        if (state.FindBlocked(EmailGuardPartyType.Tenant, message.TenantId, now) is { } tenantEntry)
        {
            return Blocked(message, EmailGuardDimension.Tenant, message.TenantId, null, tenantEntry);
        }

        if (state.FindBlocked(EmailGuardPartyType.User, message.UserId, now) is { } userEntry)
        {
            return Blocked(message, EmailGuardDimension.User, message.UserId, null, userEntry);
        }

        if (sender is not null && state.FindBlocked(EmailGuardPartyType.Sender, sender.Address, now) is { } senderEntry)
        {
            return Blocked(message, EmailGuardDimension.Sender, sender.Address, null, senderEntry);
        }

        for (int i = 0; i < distinct; i++)
        {
            GuardAddress recipient = recipients[i];
            if (state.FindBlocked(EmailGuardPartyType.Recipient, recipient.Address, now) is { } recipientEntry)
            {
                return Blocked(message, EmailGuardDimension.Recipient, recipient.Address, recipient.Address, recipientEntry);
            }

            if (state.FindBlocked(EmailGuardPartyType.Domain, recipient.Domain, now) is { } domainEntry)
            {
                return Blocked(message, EmailGuardDimension.RecipientDomain, recipient.Domain, recipient.Address, domainEntry);
            }
        }

        return null;
    }

    private (EmailGuardDimension Skip, EmailGuardDimension[]? RecipientSkips) AllowlistSkips(
        OutboundEmail message, GuardAddress[] recipients, int distinct, GuardAddress? sender, GuardStateSnapshot state, DateTimeOffset now)
    {
        AllowlistSkipOptions options = _options.Allowlist;
        EmailGuardDimension skip = EmailGuardDimension.None;
        if (state.FindAllowed(EmailGuardPartyType.Tenant, message.TenantId, now) is not null)
        {
            skip |= options.Tenant;
        }

        if (state.FindAllowed(EmailGuardPartyType.User, message.UserId, now) is not null)
        {
            skip |= options.User;
        }

        if (sender is not null && state.FindAllowed(EmailGuardPartyType.Sender, sender.Address, now) is not null)
        {
            skip |= options.Sender;
        }

        EmailGuardDimension[]? recipientSkips = null;
        EmailGuardDimension common = EmailGuardDimension.All;
        for (int i = 0; i < distinct; i++)
        {
            EmailGuardDimension own = skip;
            if (state.FindAllowed(EmailGuardPartyType.Recipient, recipients[i].Address, now) is not null)
            {
                own |= options.Recipient;
            }

            if (state.FindAllowed(EmailGuardPartyType.Domain, recipients[i].Domain, now) is not null)
            {
                own |= options.Domain;
            }

            if (own != EmailGuardDimension.None)
            {
                recipientSkips ??= new EmailGuardDimension[distinct];
                recipientSkips[i] = own;
            }

            common &= own;
        }

        // Message-wide dimensions are skipped for recipients' sake only when every recipient skips them.
        const EmailGuardDimension perRecipient = EmailGuardDimension.Recipient | EmailGuardDimension.RecipientDomain;
        skip |= common & ~perRecipient;
        return (skip, recipientSkips);
    }

    private EmailSendDecision Blocked(OutboundEmail message, EmailGuardDimension dimension, string? partition, string? recipient, EmailGuardListEntry entry)
    {
        LogBlocked(_logger, dimension, entry.Reason, message.TenantId, message.UserId);
        return new EmailSendDecision(
            EmailSendReason.Blocklisted, dimension, partition, recipient, null, $"Blocklisted: {entry.Reason}", TimeSpan.MaxValue, _timeProvider.GetUtcNow(), null);
    }

    private EmailSendDecision Suspended(OutboundEmail message, EmailGuardDimension dimension, string partyId, EmailGuardFlag flag, DateTimeOffset now)
    {
        LogSuspended(_logger, dimension, flag.Reason, message.TenantId, message.UserId);
        return new EmailSendDecision(
            EmailSendReason.Suspended, dimension, partyId, null, null, $"Suspended: {flag.Reason}", flag.ExpiresAt - now, now, null);
    }

    private EmailSendDecision TooManyRecipients(OutboundEmail message, int recipients)
    {
        LogTooManyRecipients(_logger, recipients, _options.MaxRecipientsPerMessage, message.TenantId);
        return Refuse(message, EmailSendReason.TooManyRecipients, EmailGuardDimension.Recipient, null, null, null,
            $"The message has {recipients} recipients; at most {_options.MaxRecipientsPerMessage} are allowed.");
    }

    private EmailSendDecision Refuse(OutboundEmail message, EmailSendReason reason, EmailGuardDimension dimension, string? partition, string? recipient, string? invalidAddress, string? detail)
    {
        if (reason == EmailSendReason.InvalidAddress)
        {
            LogInvalidAddress(_logger, dimension, detail, message.TenantId, message.UserId);
        }

        return new EmailSendDecision(reason, dimension, partition, recipient, invalidAddress, detail, TimeSpan.MaxValue, _timeProvider.GetUtcNow(), null);
    }

    private void RaiseNearLimit(Action<EmailGuardLimitEvent> callback, OutboundEmail message, EmailSendRuleUsage[] usage)
    {
        double threshold = _options.NearLimitThreshold;
        foreach (EmailSendRuleUsage rule in usage)
        {
            long mark = (long)Math.Ceiling(rule.Limit * threshold);
            long before = rule.Count - rule.Cost;
            if (before < mark && rule.Count >= mark)
            {
                LogNearLimit(_logger, rule.Dimension, rule.Count, rule.Limit, message.TenantId);
                Raise(callback, new EmailGuardLimitEvent(message, rule));
            }
        }
    }

    private void Raise(Action<EmailGuardLimitEvent> callback, EmailGuardLimitEvent limitEvent)
    {
        try
        {
            callback(limitEvent);
        }
        catch (Exception ex)
        {
            LogEventCallbackFailed(_logger, ex);
        }
    }
}
