using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>
/// The plan of keys: turns a screened message into the requests of one atomic acquire, one per rule of every
/// dimension that applies, with its key and cost, each tagged with the dimension and party it stands for.
/// </summary>
/// <remarks>
/// A message that the provider delivers N times costs N against the message-wide dimensions (global, tenant and its pool, sender,
/// user, client IP, category, content), and each recipient the number of mails it receives (1, unless the message writes
/// one mailbox several ways: <c>v+1@x</c>, <c>v+2@x</c>), and 1 against each recipient domain (or one per mail at the
/// domain, when <see cref="SendGuardOptions.CountEachRecipientAgainstDomain"/> is set).
/// </remarks>
internal sealed class GuardPlanBuilder
{
    private readonly SendGuardOptions _options;
    private readonly SendGuardKeys _keys;
    private readonly FairShareTracker? _fairShare;

    public GuardPlanBuilder(SendGuardOptions options, SendGuardKeys keys, FairShareTracker? fairShare = null)
    {
        _options = options;
        _keys = keys;
        _fairShare = fairShare;
    }

    /// <summary>
    /// Fills <see cref="GuardBuffers.Requests"/> and <see cref="GuardBuffers.Tags"/>, and sets
    /// <see cref="GuardBuffers.RequestCount"/>.
    /// </summary>
    /// <returns>
    /// False, with nothing written, when the message needs more counters than one store call takes; then
    /// <paramref name="messageWide"/> and <paramref name="perRecipient"/> say how many rules apply.
    /// </returns>
    /// <remarks>
    /// Not inlined: inlined into the check's <c>Acquire</c>, its dozens of temporaries (the rules of every dimension,
    /// the key caches' lookups) widened that frame to over a kilobyte, zeroed on every check.
    /// </remarks>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public bool TryBuild(
        OutboundEmail message, GuardBuffers buffers, GuardAddress? sender, TenantLimitAnswer tenantLimits, GuardPlan plan, out int messageWide, out int perRecipient)
    {
        EmailGuardDimension skip = plan.Skip;
        SendGuardRules rules = buffers.Caps.Rules;
        TenantPoolRules pools = buffers.Caps.Pools;
        GuardAddress[] recipients = buffers.Recipients;
        int distinct = buffers.RecipientCount;
        // An allowlisted tenant may come with its answer (for its pool's ratios, below); its rules still do not apply.
        RateLimitRule[] tenantRules = SendGuardRules.Reduce(Use(tenantLimits.RulesOr(rules.Tenant), EmailGuardDimension.Tenant, skip, true), plan.TenantFactor);
        RateLimitRule[] globalRules = Use(rules.Global, EmailGuardDimension.Global, skip, true);
        RateLimitRule[] senderRules = Use(rules.Sender, EmailGuardDimension.Sender, skip, sender is not null);
        RateLimitRule[] userRules = SendGuardRules.Reduce(Use(rules.User, EmailGuardDimension.User, skip, message.UserId is not null), plan.UserFactor);
        RateLimitRule[] ipRules = Use(rules.ClientIp, EmailGuardDimension.ClientIp, skip, message.ClientIp is not null);
        RateLimitRule[] categoryRules = message.Category is { } category
            ? SendGuardRules.Reduce(Use(rules.ForCategory(category), EmailGuardDimension.Category, skip, true), plan.CategoryFactor)
            : [];
        RateLimitRule[] contentRules = Use(rules.ForContent(message), EmailGuardDimension.Content, skip, true);
        // The tenant's pool, from the answer that gave its rules: the one pool the check's sends count for in the ratios
        // (every path reads it from the buffers, never from the limit cache again), an allowlisted tenant's too, as the
        // provider delivers its mail. Its rules are skipped with the tenant's own, never reduced by the tenant's flag
        // (others share it), only by the pool's own.
        TenantPool? pool = pools.Any && message.TenantId is not null ? pools.For(tenantLimits) : null;
        buffers.TenantPool = pool;
        if ((skip & EmailGuardDimension.Tenant) != 0)
        {
            pool = null;
        }

        int poolRules = pool?.Rules.Length ?? 0;
        RateLimitRule[] recipientRules = rules.Recipient;
        RateLimitRule[] domainRules = rules.RecipientDomain;

        // The tenant's fair share of the global budget rides on the global rules: skipped with them, none without a tenant.
        int shares = _fairShare is not null && globalRules.Length != 0 && message.TenantId is not null ? _fairShare.MaxRequests : 0;
        NearDuplicateSketch? nearDuplicate = contentRules.Length != 0 ? rules.NearDuplicate : null;
        int contentKeys = 1 + (nearDuplicate?.Bands ?? 0);
        RateLimitRule[]? ownCopies = contentRules.Length != 0 ? rules.ContentOwnCopies : null;
        // The tenant's and the user's keys, looked up once for their own rules and their own copies of the content.
        GuardPartyMemo memo = buffers.Parties.For(_keys);
        string? tenantKey = message.TenantId is { } tenant && (tenantRules.Length != 0 || ownCopies is not null) ? _keys.Tenants.Get(tenant, buffers.KeysNowMs, ref memo.Tenant) : null;
        string? userKey = message.UserId is { } user && (userRules.Length != 0 || ownCopies is not null) ? _keys.Users.Get(user, buffers.KeysNowMs, ref memo.User) : null;
        string? ownUser = ownCopies is not null ? userKey : null;
        string? ownTenant = ownCopies is not null ? tenantKey : null;
        int perContentRequest = 1 + (ownUser is null ? 0 : 1) + (ownTenant is null ? 0 : 1);
        messageWide = shares + globalRules.Length + tenantRules.Length + poolRules + senderRules.Length + userRules.Length + ipRules.Length + categoryRules.Length
            + (contentKeys * contentRules.Length * perContentRequest);
        perRecipient = recipientRules.Length + domainRules.Length;
        if (messageWide + ((long)distinct * perRecipient) > RateLimitValidation.MaxRequestsPerCall)
        {
            return false;
        }

        buffers.EnsureRequests(messageWide + (distinct * perRecipient));
        RateLimitRequest[] requests = buffers.Requests;
        RequestTag[] tags = buffers.Tags;
        int count = 0;
        long cost = buffers.DeliveryCount;
        Add(requests, tags, ref count, globalRules, PartitionKeys.Global, cost, EmailGuardDimension.Global, null, null);
        if (shares != 0)
        {
            _fairShare!.AddShares(requests, tags, ref count, message.TenantId!, cost);
        }

        if (tenantRules.Length != 0)
        {
            Add(requests, tags, ref count, tenantRules, tenantKey!, cost, EmailGuardDimension.Tenant, TenantPartition.Of(message.TenantId!), null);
        }

        if (pool is not null)
        {
            Add(requests, tags, ref count, SendGuardRules.Reduce(pool.Rules, plan.PoolFactor), pool.Key, cost, EmailGuardDimension.Tenant, pool.Partition, null);
        }

        if (senderRules.Length != 0)
        {
            Add(requests, tags, ref count, senderRules, sender!.SenderKey, cost, EmailGuardDimension.Sender, sender.Address, null);
        }

        if (userRules.Length != 0)
        {
            Add(requests, tags, ref count, userRules, userKey!, cost, EmailGuardDimension.User, message.UserId, null);
        }

        if (ipRules.Length != 0)
        {
            (string partition, string key) = _keys.ClientIps.Get(message.ClientIp!, buffers.KeysNowMs);
            Add(requests, tags, ref count, ipRules, key, cost, EmailGuardDimension.ClientIp, partition, null);
        }

        if (categoryRules.Length != 0)
        {
            Add(requests, tags, ref count, categoryRules, _keys.Categories.Get(message.Category!, buffers.KeysNowMs), cost, EmailGuardDimension.Category, message.Category, null);
        }

        if (contentRules.Length != 0)
        {
            ContentParties parties = new(ownCopies, ownUser, ownTenant);
            AddContent(requests, tags, ref count, message.Content!, contentRules, nearDuplicate, cost, parties);
        }

        if (recipientRules.Length != 0 || domainRules.Length != 0)
        {
            AddRecipients(requests, tags, ref count, recipients, buffers.Deliveries, distinct, plan.RecipientSkips, recipientRules, domainRules);
        }

        buffers.RequestCount = count;
        return true;
    }

    /// <summary>
    /// The exact fingerprint's counters, then, with the near-duplicate sketch on, one per band and rule: a near
    /// duplicate fills a band's counter however its exact fingerprint differs. A band key is a partition of the
    /// content dimension like the fingerprint (<c>send:nd:nd</c>, the band, <c>:</c> and a 128-bit hash).
    /// </summary>
    private static void AddContent(
        RateLimitRequest[] requests, RequestTag[] tags, ref int count, EmailContent content, RateLimitRule[] contentRules, NearDuplicateSketch? nearDuplicate, long cost, in ContentParties parties)
    {
        Span<byte> bandHashes = stackalloc byte[(nearDuplicate?.Bands ?? 0) * NearDuplicateSketch.BandHashBytes];
        string fingerprint = ContentFingerprint.Compute(content, nearDuplicate, bandHashes, out bool hasBands);
        AddContentKey(requests, tags, ref count, contentRules, PartitionKeys.ContentPrefix + fingerprint, fingerprint, cost, parties);
        if (!hasBands)
        {
            return;
        }

        for (int b = 0; b < nearDuplicate!.Bands; b++)
        {
            // The partition says which band denied ("nd2:<hash>"), so an operator can tell a near-duplicate denial from an exact one.
            string partition = NearDuplicateSketch.Partition(b, bandHashes.Slice(b * NearDuplicateSketch.BandHashBytes, NearDuplicateSketch.BandHashBytes));
            AddContentKey(requests, tags, ref count, contentRules, PartitionKeys.NearDuplicatePrefix + partition, partition, cost, parties);
        }
    }

    /// <summary>
    /// One content key's requests, one per rule, each followed by the counters of the user's and the tenant's own copies
    /// of the key under that rule when a content denial can be a trip: a denial's entries then say whether the party
    /// alone would have been denied (<see cref="ContentOwnCopies"/>), with no call of its own.
    /// </summary>
    private static void AddContentKey(
        RateLimitRequest[] requests, RequestTag[] tags, ref int count, RateLimitRule[] contentRules, string key, string partition, long cost, in ContentParties parties)
    {
        if (parties.Counters is not { } counters)
        {
            Add(requests, tags, ref count, contentRules, key, cost, EmailGuardDimension.Content, partition, null);
            return;
        }

        string? userKey = parties.UserKey is { } user ? PartitionKeys.ForOwnCopies(partition, user) : null;
        string? tenantKey = parties.TenantKey is { } tenant ? PartitionKeys.ForOwnCopies(partition, tenant) : null;
        for (int r = 0; r < contentRules.Length; r++)
        {
            requests[count] = new RateLimitRequest(key, contentRules[r], cost);
            tags[count++] = new RequestTag(EmailGuardDimension.Content, partition, null);
            if (userKey is not null)
            {
                requests[count] = new RateLimitRequest(userKey, counters[r], cost);
                tags[count++] = new RequestTag(EmailGuardDimension.Content, partition, null, EmailGuardDimension.User);
            }

            if (tenantKey is not null)
            {
                requests[count] = new RateLimitRequest(tenantKey, counters[r], cost);
                tags[count++] = new RequestTag(EmailGuardDimension.Content, partition, null, EmailGuardDimension.Tenant);
            }
        }
    }

    /// <remarks>The tag comes in its parts: a struct argument is a local of the caller's, zeroed on every check.</remarks>
    private static void Add(
        RateLimitRequest[] requests, RequestTag[] tags, ref int count, RateLimitRule[] rules, string key, long cost, EmailGuardDimension dimension, string? partition, string? recipient)
    {
        foreach (RateLimitRule rule in rules)
        {
            requests[count] = new RateLimitRequest(key, rule, cost);
            tags[count] = new RequestTag(dimension, partition, recipient);
            count++;
        }
    }

    private void AddRecipients(
        RateLimitRequest[] requests,
        RequestTag[] tags,
        ref int count,
        GuardAddress[] recipients,
        int[] deliveries,
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
                Add(requests, tags, ref count, recipientRules, recipient.RecipientKey, deliveries[i], EmailGuardDimension.Recipient, recipient.Address, recipient.Address);
            }

            if (domainRules.Length == 0 || (skip & EmailGuardDimension.RecipientDomain) != 0 || DomainCountedBefore(recipients, recipientSkips, i))
            {
                continue;
            }

            long domainCost = countEach ? deliveries[i] : 1;
            if (countEach)
            {
                for (int j = i + 1; j < distinct; j++)
                {
                    if (SameDomain(recipients[j], recipient) && ((recipientSkips?[j] ?? EmailGuardDimension.None) & EmailGuardDimension.RecipientDomain) == 0)
                    {
                        domainCost += deliveries[j];
                    }
                }
            }

            Add(requests, tags, ref count, domainRules, recipient.DomainKey, domainCost, EmailGuardDimension.RecipientDomain, recipient.DomainPartition, recipient.Address);
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

    /// <summary>Whether two recipients share a domain counter: the same registrable domain (<see cref="GuardAddress.DomainPartition"/>).</summary>
    private static bool SameDomain(GuardAddress a, GuardAddress b) => string.Equals(a.DomainPartition, b.DomainPartition, StringComparison.Ordinal);

    /// <summary>The counters of a party's own copies (per content rule) and the parties' cached keys; no counters when content denials are never trips.</summary>
    private readonly record struct ContentParties(RateLimitRule[]? Counters, string? UserKey, string? TenantKey);

    private static RateLimitRule[] Use(RateLimitRule[] rules, EmailGuardDimension dimension, EmailGuardDimension skip, bool applies)
        => applies && (skip & dimension) == 0 ? rules : [];
}
