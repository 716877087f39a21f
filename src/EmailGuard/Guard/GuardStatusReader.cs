namespace EmailGuard;

/// <summary>
/// The status reader behind <see cref="IEmailSendGuard.GetStatusAsync"/>: peeks, without consuming, at every counter
/// the queried parties would take, lists their active flags, and reads their ratios (<see cref="RatioStatus"/>), for an
/// admin screen.
/// </summary>
internal sealed class GuardStatusReader
{
    private readonly SendGuardKeys _keys;
    private readonly GuardStateCache _state;
    private readonly TenantLimitCache _tenantLimits;
    private readonly ResilientRateLimitStore _store;
    private readonly TimeProvider _timeProvider;

    public GuardStatusReader(SendGuardKeys keys, GuardStateCache state, TenantLimitCache tenantLimits, ResilientRateLimitStore store, TimeProvider timeProvider)
    {
        _keys = keys;
        _state = state;
        _tenantLimits = tenantLimits;
        _store = store;
        _timeProvider = timeProvider;
    }

    /// <param name="query">The parties.</param>
    /// <param name="feedback">The ratios' counts, when the feedback is registered.</param>
    /// <param name="caps">The caps in force, read once by the caller, so the whole status reads one set of them.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public async ValueTask<EmailGuardStatus> GetAsync(EmailGuardStatusQuery query, EmailGuardFeedback? feedback, SendGuardCaps caps, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        SendGuardRules rules = caps.Rules;
        TenantPoolRules? pools = caps.Pools.Any ? caps.Pools : null;

        // An id a check refuses as InvalidParty (blank or too long) is left out here too, before anything is done with it:
        // no tenant limit lookup, no counter, no flag or ratio read (whose feedback counts refuse it with an exception), so
        // a status page that takes an id from a request costs a length check.
        EmailGuardDimension invalidParty = GuardPartyIds.FindInvalid(query.TenantId, query.UserId, query.Category);
        if (invalidParty != EmailGuardDimension.None)
        {
            query = new EmailGuardStatusQuery
            {
                TenantId = GuardPartyIds.IsInvalid(query.TenantId) ? null : query.TenantId,
                UserId = GuardPartyIds.IsInvalid(query.UserId) ? null : query.UserId,
                Category = GuardPartyIds.IsInvalid(query.Category) ? null : query.Category,
                Sender = query.Sender,
                Recipient = query.Recipient,
                ClientIp = query.ClientIp,
                TenantPool = query.TenantPool,
            };
        }

        GuardStateSnapshot state = await _state.GetAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new EmailGuardStoreUnavailableException(
                "The EmailGuard state store has not answered since the app started, so the flags of the queried parties are unknown.");
        DateTimeOffset now = _timeProvider.GetUtcNow();
        List<RateLimitRequest> requests = [];
        List<RequestTag> tags = [];
        List<EmailGuardFlag> flags = [];
        string? invalid = null;
        string? poolName = null;

        void Add(RateLimitRule[] rules, string key, EmailGuardDimension dimension, string? partition, string? recipient = null)
        {
            foreach (RateLimitRule rule in rules)
            {
                requests.Add(new RateLimitRequest(key, rule, 0));
                tags.Add(new RequestTag(dimension, partition, recipient));
            }
        }

        Add(rules.Global, PartitionKeys.Global, EmailGuardDimension.Global, null);
        if (query.TenantId is { } tenant)
        {
            FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.Tenant, tenant, now);
            TenantLimitAnswer answer = await _tenantLimits.GetAnswerAsync(tenant, rules.Tenant, null, cancellationToken).ConfigureAwait(false);
            Add(SendGuardRules.Reduce(answer.RulesOr(rules.Tenant), effect.LimitFactor), _keys.Tenants.Get(tenant), EmailGuardDimension.Tenant, TenantPartition.Of(tenant));
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.Tenant, tenant, now));
            if (pools?.For(answer) is { } pool)
            {
                // The pool the tenant's mail also counts against; its flags show with the tenant's, as they hold its mail too.
                poolName = pool.Name;
                AddPool(pool);
            }
        }

        string? unknownPool = null;
        string? queriedPool = null;
        if (query.TenantPool is { } queried)
        {
            // The pool by itself, as the check counts it; once, when it is the queried tenant's own.
            if (pools?.Configured(queried) is not { } pool)
            {
                unknownPool = queried;
            }
            else if (!string.Equals(pool.Name, poolName, StringComparison.Ordinal))
            {
                queriedPool = pool.Name;
                AddPool(pool);
            }
        }

        if (query.Sender is { } rawSender)
        {
            GuardAddress sender = _keys.Addresses.Get(rawSender);
            if (sender.IsValid)
            {
                Add(rules.Sender, sender.SenderKey, EmailGuardDimension.Sender, sender.Address);
            }
            else
            {
                invalid = rawSender;
            }
        }

        if (query.UserId is { } user)
        {
            FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.User, user, now);
            Add(SendGuardRules.Reduce(rules.User, effect.LimitFactor), _keys.Users.Get(user), EmailGuardDimension.User, user);
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.User, user, now));
        }

        if (query.ClientIp is { } ip)
        {
            (string partition, string key) = _keys.ClientIps.Get(ip);
            Add(rules.ClientIp, key, EmailGuardDimension.ClientIp, partition);
        }

        if (query.Category is { } category)
        {
            FlagEffect effect = state.GetFlagEffect(EmailGuardPartyType.Category, category.ToLowerInvariant(), now);
            Add(SendGuardRules.Reduce(rules.ForCategory(category), effect.LimitFactor), _keys.Categories.Get(category), EmailGuardDimension.Category, category);
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.Category, category.ToLowerInvariant(), now));
        }

        if (query.Recipient is { } rawRecipient)
        {
            GuardAddress recipient = _keys.Addresses.Get(rawRecipient);
            if (recipient.IsValid)
            {
                Add(rules.Recipient, recipient.RecipientKey, EmailGuardDimension.Recipient, recipient.Address, recipient.Address);
                Add(rules.RecipientDomain, recipient.DomainKey, EmailGuardDimension.RecipientDomain, recipient.DomainPartition, recipient.Address);
            }
            else
            {
                invalid = rawRecipient;
            }
        }

        void AddPool(TenantPool pool)
        {
            // Under its own partition (pool:<name>), reduced by the pool's own flags only.
            FlagEffect poolEffect = state.GetFlagEffect(EmailGuardPartyType.TenantPool, pool.Name, now);
            Add(SendGuardRules.Reduce(pool.Rules, poolEffect.LimitFactor), pool.Key, EmailGuardDimension.Tenant, pool.Partition);
            flags.AddRange(state.GetActiveFlags(EmailGuardPartyType.TenantPool, pool.Name, now));
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

        IReadOnlyList<EmailPartyRatioStatus> ratios = feedback is null || !available
            ? []
            : await RatioStatus.ReadAsync(feedback, query, invalid, poolName, queriedPool, state, now, cancellationToken).ConfigureAwait(false);
        return new EmailGuardStatus(usage, flags, available ? decision.Timestamp : now, available, invalid, ratios, unknownPool, invalidParty);
    }
}
