namespace EmailGuard;

/// <summary>The denominator of the ratios: every admitted message counted against the parties its attribution names.</summary>
internal sealed partial class EmailGuardFeedback : IDisposable
{
    /// <summary>
    /// The most counters one send is counted under: all mail, tenant, tenant pool, user, sender, category, client
    /// network, their sequences of the volume horizon, and the half-open probes of the ratio breakers (two reasons for
    /// each of tenant, tenant pool and user).
    /// </summary>
    internal const int MaxSendCounts = 14 + RatioBreaker.MaxProbeSends;

    /// <summary>
    /// The send counters' keys by party as the guard names it (null when the value is not valid for its party), so
    /// that counting a send in the guard's acquire builds no string. Bounded like the guard's own key caches.
    /// </summary>
    private readonly BoundedKeyCache<(EmailGuardDimension Dimension, string Value), string?> _sendKeys = new();

    private static readonly string s_globalSendKey = FeedbackKeys.Count(FeedbackKeys.Sends, EmailGuardDimension.Global, null);

    [ThreadStatic]
    private static RateLimitRequest[]? t_countRequests;

    [ThreadStatic]
    private static RateLimitEntry[]? t_countResults;

    /// <summary>Stops the ratio breakers' recovery timers.</summary>
    public void Dispose() => Breakers?.Dispose();

    /// <summary>The ratio breakers, evaluated after each recorded hard bounce or complaint; null when none are registered.</summary>
    internal RatioBreaker? Breakers { get; set; }

    /// <summary>The counters store, for the half-open probes of the ratio breakers.</summary>
    internal ResilientRateLimitStore Store => _store;

    /// <summary>The key-value store, where the ratio breakers remember how often a party tripped.</summary>
    internal ResilientKeyValueStore Mappings => _mappings;

    /// <summary>The rolling window of the counts.</summary>
    internal TimeSpan CountWindow => _options.CountWindow;

    /// <summary>
    /// Writes the counters of one admitted message to <paramref name="into"/> (at least <see cref="MaxSendCounts"/>
    /// long), for the send guard to take in the same atomic acquire as its own counters: a send is then counted exactly
    /// when it is admitted, for no round trip of its own. The same keys as <see cref="CountSend(EmailSendAttribution)"/> for the attribution
    /// the guard gives the message.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="pool">The tenant's pool (its name in lower case) as the guard found it, or null.</param>
    /// <param name="sender">The sender as the guard normalized it, or null.</param>
    /// <param name="clientPartition">The client IP partition as the guard grouped it, or null.</param>
    /// <param name="recipients">The mails the provider delivers for the message, as the guard's caps counted them (one per way each recipient is written): each is one send.</param>
    /// <param name="into">Where to write.</param>
    /// <param name="poolHeld">
    /// Whether the check found the pool's limits cut by a flag (<see cref="GuardPlan.PoolFactor"/> under 1), as they are
    /// while its breaker is half-open, or did not read them (a tenant the allowlist skips): only then are the pool's flags
    /// read again for its probe.
    /// </param>
    /// <returns>How many counters were written.</returns>
    internal int WriteSendCounts(OutboundEmail message, string? pool, string? sender, string? clientPartition, long recipients, Span<RateLimitRequest> into, bool poolHeld = true)
        => WriteSendCounts(message, pool, sender, clientPartition, recipients, into, countedAt: null, probes: true, poolHeld);

    /// <summary>
    /// Writes the counters of one message counted at <paramref name="countedAt"/> (a refund's: the period of the
    /// volume horizon is that time's), with or without the half-open probes.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="pool">The tenant's pool (its name in lower case) as the guard found it, or null.</param>
    /// <param name="sender">The sender as the guard normalized it, or null.</param>
    /// <param name="clientPartition">The client IP partition as the guard grouped it, or null.</param>
    /// <param name="recipients">The mails the provider delivers for the message: each is one send.</param>
    /// <param name="into">Where to write, at least <see cref="MaxSendCounts"/> long.</param>
    /// <param name="countedAt">When the send was counted; null for now, read only when the volume horizon needs it (the guard's every admitted check counts its send, and a clock read costs as much as a counter).</param>
    /// <param name="probes">Whether to write the probe counters of the parties that are half-open now.</param>
    /// <param name="poolHeld">Whether the pool's limits may be cut by a flag: false when the check found them not to be, so its probe is not looked up.</param>
    /// <returns>How many counters were written.</returns>
    internal int WriteSendCounts(
        OutboundEmail message, string? pool, string? sender, string? clientPartition, long recipients, Span<RateLimitRequest> into, DateTimeOffset? countedAt, bool probes,
        bool poolHeld = true)
    {
        int count = 0;
        long period = VolumeOn ? Period(countedAt ?? _timeProvider.GetUtcNow()) : 0;
        Add(into, ref count, EmailGuardDimension.Global, string.Empty);
        Add(into, ref count, EmailGuardDimension.Tenant, message.TenantId);
        if (pool is not null)
        {
            Add(into, ref count, FeedbackKeys.TenantPool, pool);
        }

        Add(into, ref count, EmailGuardDimension.User, message.UserId);
        Add(into, ref count, EmailGuardDimension.Sender, sender);
        Add(into, ref count, EmailGuardDimension.Category, message.Category);
        Add(into, ref count, EmailGuardDimension.ClientIp, clientPartition);
        if (probes && Breakers is { } breakers)
        {
            count += breakers.WriteProbeSends(message.TenantId, pool, message.UserId, recipients, into[count..], poolHeld);
        }

        return count;

        void Add(Span<RateLimitRequest> into, ref int count, EmailGuardDimension dimension, string? value)
        {
            if (value is not null && SendKey(dimension, value) is { } key)
            {
                into[count++] = new RateLimitRequest(key, _countRule, recipients);
                if (SequenceRequest(key, period, recipients) is { } sequence)
                {
                    into[count++] = sequence;
                }
            }
        }
    }

    /// <summary>The send counter's key of a party; all mail's is one constant, not looked up for every counted send.</summary>
    private string? SendKey(EmailGuardDimension dimension, string value)
        => dimension == EmailGuardDimension.Global
            ? s_globalSendKey
            : _sendKeys.GetOrAdd((dimension, value), this, static (party, feedback) =>
                feedback.Canonical(party.Dimension, party.Dimension == EmailGuardDimension.ClientIp ? FeedbackKeys.Cidr(party.Value) : party.Value) is { } canonical
                    ? FeedbackKeys.Count(FeedbackKeys.Sends, party.Dimension, canonical)
                    : null);

    /// <summary>
    /// Counts an admitted message against every party its attribution names, the denominator of the ratios. Never
    /// throws: a store that does not answer loses the count, which only makes the ratios more cautious.
    /// </summary>
    internal void CountSend(EmailSendAttribution attribution)
    {
        List<RateLimitRequest> requests = new(6);
        long period = VolumeOn ? Period() : 0;
        foreach ((EmailGuardDimension dimension, string? partition) in Parties(attribution))
        {
            string key = FeedbackKeys.Count(FeedbackKeys.Sends, dimension, partition);
            requests.Add(new RateLimitRequest(key, _countRule));
            if (SequenceRequest(key, period) is { } sequence)
            {
                requests.Add(sequence);
            }
        }

        Breakers?.AddProbeSends(attribution, requests);

        RateLimitRequest[] batch = [.. requests];
        ValueTask<RateLimitDecision> pending = _store.AcquireAsync(batch, new RateLimitEntry[batch.Length], StoreFailureMode.FailOpen, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(pending);
        }
    }

    /// <summary>
    /// Counts an admitted message that its own store call did not count (an unguarded admission, a plan too large to
    /// carry the counters) in an acquire of its own, with the keys of
    /// <see cref="WriteSendCounts(OutboundEmail, string?, string?, string?, long, Span{RateLimitRequest}, bool)"/>: no attribution is built,
    /// and on a store that answers at once (in memory) nothing is allocated, the requests being written to this
    /// thread's buffers.
    /// </summary>
    internal void CountSend(OutboundEmail message, string? pool, string? sender, string? clientPartition, long recipients)
    {
        RateLimitRequest[] requests = t_countRequests ??= new RateLimitRequest[MaxSendCounts];
        RateLimitEntry[] results = t_countResults ??= new RateLimitEntry[MaxSendCounts];
        int count = WriteSendCounts(message, pool, sender, clientPartition, recipients, requests);
        ValueTask<RateLimitDecision> pending = _store.AcquireAsync(requests.AsMemory(0, count), results.AsMemory(0, count), StoreFailureMode.FailOpen, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            // The call still reads the buffers: they are its own now, and this thread takes new ones next time.
            t_countRequests = null;
            t_countResults = null;
            _ = ObserveAsync(pending);
        }
    }

    private async Task ObserveAsync(ValueTask<RateLimitDecision> pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogSendCountFailed(_logger, LogValue.Of(ex));
        }
    }
}
