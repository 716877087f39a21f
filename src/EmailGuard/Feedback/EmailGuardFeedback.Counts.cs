namespace EmailGuard;

/// <summary>Reading the feedback counters: per party, per status query, and the parties an event is charged to.</summary>
internal sealed partial class EmailGuardFeedback
{
    public async ValueTask<EmailFeedbackCounts> GetAsync(EmailGuardDimension dimension, string? partition, CancellationToken cancellationToken = default)
    {
        string? canonical = dimension == EmailGuardDimension.Global
            ? null
            : Canonical(dimension, partition) ?? throw new ArgumentException($"'{LogValue.Of(partition)}' is not a valid {dimension} partition.", nameof(partition));
        return (await ReadAsync([(dimension, canonical)], cancellationToken).ConfigureAwait(false))[0];
    }

    public ValueTask<IReadOnlyList<EmailFeedbackCounts>> GetStatusAsync(EmailGuardStatusQuery query, CancellationToken cancellationToken = default)
        => GetStatusAsync(query, pool: null, cancellationToken);

    /// <summary>
    /// The counts of the queried parties, then those of <paramref name="pool"/> (the queried tenant's pool) when given,
    /// then those of the queried <see cref="EmailGuardStatusQuery.TenantPool"/> unless it is that pool.
    /// </summary>
    internal async ValueTask<IReadOnlyList<EmailFeedbackCounts>> GetStatusAsync(EmailGuardStatusQuery query, string? pool, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        List<(EmailGuardDimension, string?)> parties = [(EmailGuardDimension.Global, null)];
        void Add(EmailGuardDimension dimension, string? value)
        {
            if (value is not null)
            {
                parties.Add((dimension, Canonical(dimension, value) ?? throw new ArgumentException($"'{LogValue.Of(value)}' is not a valid {dimension} partition.", nameof(query))));
            }
        }

        Add(EmailGuardDimension.Tenant, query.TenantId);
        Add(EmailGuardDimension.User, query.UserId);
        Add(EmailGuardDimension.Sender, query.Sender);
        Add(EmailGuardDimension.Category, query.Category);
        if (query.ClientIp is { } ip)
        {
            parties.Add((EmailGuardDimension.ClientIp, FeedbackKeys.Cidr(ip, _ipv4PrefixLength, _ipv6PrefixLength)));
        }

        Add(FeedbackKeys.TenantPool, pool);
        if (query.TenantPool is { } queried
            && (pool is null || !string.Equals(Canonical(FeedbackKeys.TenantPool, queried), Canonical(FeedbackKeys.TenantPool, pool), StringComparison.Ordinal)))
        {
            Add(FeedbackKeys.TenantPool, queried);
        }

        return await ReadAsync(parties, cancellationToken).ConfigureAwait(false);
    }

    internal async ValueTask<EmailFeedbackCounts[]> ReadAsync(List<(EmailGuardDimension Dimension, string? Partition)> parties, CancellationToken cancellationToken)
    {
        int kinds = FeedbackKeys.Kinds.Length;
        int counted = parties.Count * kinds;
        long period = VolumeOn ? Period() : 0;
        int sequences = VolumeOn ? 2 * parties.Count : 0;
        int notSent = counted + sequences;
        RateLimitRequest[] requests = new RateLimitRequest[notSent + parties.Count];
        if (VolumeOn)
        {
            AddSequencePeeks(parties, period, requests, counted);
        }

        for (int p = 0; p < parties.Count; p++)
        {
            for (int k = 0; k < kinds; k++)
            {
                requests[(p * kinds) + k] = new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.Kinds[k], parties[p].Dimension, parties[p].Partition), _countRule, 0);
            }

            requests[notSent + p] = new RateLimitRequest(FeedbackKeys.Count(FeedbackKeys.NotSent, parties[p].Dimension, parties[p].Partition), _countRule, 0);
        }

        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await _store.PeekAsync(requests, entries, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            throw new EmailGuardStoreUnavailableException("The EmailGuard store did not answer: the feedback counts could not be read.");
        }

        (long Sends, long Bounces, long Complaints)[]? horizon = VolumeOn
            ? await ReadVolumeAsync(parties, period, entries.AsMemory(counted, sequences), cancellationToken).ConfigureAwait(false)
            : null;
        EmailFeedbackCounts[] counts = new EmailFeedbackCounts[parties.Count];
        for (int p = 0; p < parties.Count; p++)
        {
            int at = p * kinds;
            // A tenant pool reads as the guard names it, the tenant partition pool:<name>; its counters are its own. A
            // tenant whose id reads as a pool's partition is shown escaped (tenant:pool:trial), as in the guard's denials
            // and usage, so no tenant shows as a pool; its counters' keys are made from its id.
            (EmailGuardDimension dimension, string? partition) = parties[p];
            bool pool = dimension == FeedbackKeys.TenantPool;
            counts[p] = new EmailFeedbackCounts
            {
                Dimension = pool ? EmailGuardDimension.Tenant : dimension,
                Partition = pool ? TenantPoolRules.PartitionPrefix + partition
                    : dimension == EmailGuardDimension.Tenant && partition is not null ? TenantPartition.Of(partition)
                    : partition,
                Delivered = entries[at].Count,
                Bounces = entries[at + 1].Count,
                TransientBounces = entries[at + 2].Count,
                Complaints = entries[at + 3].Count,
                Unsubscribes = entries[at + 4].Count,
                Sends = Sent(entries[at + 5].Count, entries[notSent + p].Count, entries[at + 1].Count, entries[at + 3].Count),
                Window = _options.CountWindow,
                Timestamp = decision.Timestamp,
                LastSendsHorizon = VolumeOn ? _options.CountLastSends : 0,
                LastSends = horizon?[p].Sends ?? 0,
                LastSendsBounces = horizon?[p].Bounces ?? 0,
                LastSendsComplaints = horizon?[p].Complaints ?? 0,
            };
        }

        return counts;
    }

    /// <summary>
    /// The sends the ratios are read over: those counted at admission less the mail the provider reported it never sent
    /// (<see cref="FeedbackKeys.NotSent"/>). Never below the bounces or the complaints counted, nor below zero: a not-sent
    /// event counted after its send left the window (it lands in a later segment) offsets a send the window no longer
    /// holds, and a ratio over 1 would mean nothing.
    /// </summary>
    /// <param name="admitted">The sends counted at admission.</param>
    /// <param name="notSent">The mail of those the provider never sent.</param>
    /// <param name="bounces">The hard bounces counted over the same sends.</param>
    /// <param name="complaints">The complaints counted over the same sends.</param>
    internal static long Sent(long admitted, long notSent, long bounces, long complaints)
        => notSent <= 0 ? admitted : Math.Min(admitted, Math.Max(Math.Max(admitted - notSent, Math.Max(bounces, complaints)), 0));

    /// <summary>The canonical form a partition is counted under, or null when it is not valid for its dimension.</summary>
    private string? Canonical(EmailGuardDimension dimension, string? partition)
    {
        switch (dimension)
        {
            case EmailGuardDimension.Global:
                return string.Empty;
            case EmailGuardDimension.Tenant:
            case EmailGuardDimension.User:
                // An id of only whitespace names no party, as for a category: the flags and lists refuse it as a party id,
                // so a breaker could not act on its ratios, and a read of it is refused as an empty one is.
                return string.IsNullOrWhiteSpace(partition) || partition.Length > MaxIdLength ? null : partition;
            case EmailGuardDimension.Sender:
                return partition is not null && EmailAddressNormalizer.TryNormalize(partition, _normalization, out NormalizedEmailAddress sender, out _) ? sender.Address : null;
            case EmailGuardDimension.Category:
                return string.IsNullOrWhiteSpace(partition) || partition.Length > MaxCategoryLength ? null : partition.ToLowerInvariant();
            case EmailGuardDimension.ClientIp:
                return FeedbackKeys.Network(partition, _ipv4PrefixLength, _ipv6PrefixLength);
            case FeedbackKeys.TenantPool:
                // Trimmed and in lower case, as the pools' counter keys and flags name them.
                return partition?.Trim() is not { Length: > 0 and <= TenantPoolRules.MaxNameLength } pool ? null : pool.ToLowerInvariant();
            default:
                throw new ArgumentException(
                    $"Feedback is counted per Global, Tenant, User, Sender, Category and ClientIp; not per {dimension}.", nameof(dimension));
        }
    }

    /// <summary>The parties an event is charged to: all mail, and each party the attribution names validly.</summary>
    private IEnumerable<(EmailGuardDimension, string?)> Parties(EmailSendAttribution? attribution)
    {
        yield return (EmailGuardDimension.Global, null);
        if (attribution is null)
        {
            yield break;
        }

        // Echoed tags are input from outside: a value that is not valid for its party is not counted, never thrown.
        (EmailGuardDimension, string?)[] named =
        [
            (EmailGuardDimension.Tenant, attribution.TenantId),
            (FeedbackKeys.TenantPool, attribution.TenantPool),
            (EmailGuardDimension.User, attribution.UserId),
            (EmailGuardDimension.Sender, attribution.Sender),
            (EmailGuardDimension.Category, attribution.Category),
            (EmailGuardDimension.ClientIp, attribution.ClientNetwork),
        ];
        foreach ((EmailGuardDimension dimension, string? value) in named)
        {
            if (value is not null && Canonical(dimension, value) is { } canonical)
            {
                yield return (dimension, canonical);
            }
        }
    }

    /// <summary>Segments that divide the window into whole milliseconds: the most of a few sensible counts.</summary>
    internal static int SegmentsFor(TimeSpan window)
    {
        long ms = (long)window.TotalMilliseconds;
        foreach (int segments in (ReadOnlySpan<int>)[24, 12, 10, 8, 6, 5, 4, 3, 2])
        {
            if (ms % segments == 0)
            {
                return segments;
            }
        }

        return 1;
    }
}
