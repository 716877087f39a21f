using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailGuard;

/// <summary>
/// The ratio breakers. After each recorded hard bounce or complaint, reads the rolling counts of the parties the mail
/// was attributed to (one store peek), and trips what crossed a line: a tenant, tenant pool or user is flagged (reduced
/// limits, then suspension) through the shared flags, a client network goes on the shared blocklist that the endpoints
/// enforce. A trip is a flag or entry with an expiry, so it ends on every instance at once. A tenant's, pool's or user's
/// trip is followed by a half-open phase (<c>RatioBreaker.HalfOpen.cs</c>); a network ban simply expires.
/// </summary>
internal sealed partial class RatioBreaker
{
    /// <summary>The prefix of every key-value key the breakers write: their levels, probes and claims.</summary>
    internal const string KeyPrefix = "rb:";

    private const string By = EmailRatioBreakerOptions.FlaggedBy;

    // Parties whose ratios this instance logged over a line (2102); bounded, since senders are as many as the app's From
    // addresses. A cleared memory costs one repeated line per party, never a missed one.
    private const int MaxWarnedParties = 1_000;
    private static readonly TimeSpan s_warnAgainAfter = TimeSpan.FromHours(1);

    // How long a claimed trip keeps other instances from tripping it too. Once the trip's flag is written every
    // instance reads it first (a trip is not repeated), so this only needs to outlast the few milliseconds between the
    // claim and the flag; should the instance that claimed fail to write the flag, the trip comes at the next bounce
    // after it lapses.
    private static readonly TimeSpan s_tripClaimLifetime = TimeSpan.FromMinutes(1);

    private readonly EmailGuardFeedback _feedback;
    private readonly EmailRatioBreakerOptions _options;
    private readonly IEmailGuardFlags? _flags;
    private readonly IEmailGuardLists? _lists;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EmailGuardMetrics? _metrics;
    private readonly GuardStateCache? _state;
    private readonly RateLimitRule? _probeRule;
    private readonly IReadOnlySet<string>? _pools;
    private readonly IReadOnlySet<string>? _excludedPools;
    private readonly ConcurrentDictionary<(EmailGuardDimension Dimension, string? Partition, bool Complaint), (EmailRatioBreakerAction Action, DateTimeOffset At)> _warned = new();

    public RatioBreaker(
        EmailGuardFeedback feedback, EmailRatioBreakerOptions options, IEmailGuardFlags? flags, IEmailGuardLists? lists, TimeProvider time,
        ILogger<RatioBreaker>? logger, EmailGuardMetrics? metrics, GuardStateCache? state = null, IReadOnlySet<string>? pools = null,
        IReadOnlySet<string>? excludedPools = null)
    {
        _feedback = feedback;
        _options = options;
        _flags = flags;
        _lists = lists;
        _time = time;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _state = state;
        _pools = pools;
        _excludedPools = excludedPools;
        if (options.HalfOpenFor > TimeSpan.Zero)
        {
            TimeSpan window = options.HalfOpenFor * 2;
            _probeRule = RateLimitRule.SlidingWindow(RateLimitRule.MaxLimit, window, EmailGuardFeedback.SegmentsFor(window));
        }

        if (state is not null)
        {
            // Every instance follows every half-open phase and tightened category it sees in the shared flags, so the
            // recovery is raised even when the instance that tripped the breaker has stopped.
            state.Published += AdoptHalfOpen;
            if (state.Current is { } current)
            {
                AdoptHalfOpen(current);
            }
        }
    }

    /// <summary>Evaluates the parties of one recorded event. Never throws: a store failure is logged, and the next event tries again.</summary>
    /// <param name="attribution">The event's parties.</param>
    /// <param name="parties">The parties the event was charged to.</param>
    /// <param name="complaint">Whether the complaint ratio (not the bounce ratio) is judged.</param>
    /// <param name="sentAt">When the event's mail was sent, if known.</param>
    /// <param name="cancellationToken">Cancels the evaluation.</param>
    /// <param name="failure">
    /// Whether the event is a failure (a hard bounce or a complaint); false for mail the provider never sent, which
    /// raised the parties' ratios by a send less and counts no failure: a half-open probe is read and judged without a
    /// failure counted, and a client network's ban (which counts failures, not a ratio) is left as it is.
    /// </param>
    public async ValueTask EvaluateAsync(
        EmailSendAttribution attribution, (EmailGuardDimension Dimension, string? Partition)[] parties, bool complaint, DateTimeOffset? sentAt, CancellationToken cancellationToken,
        bool failure = true)
    {
        if (!_options.Enabled)
        {
            return;
        }

        try
        {
            EmailFeedbackCounts[] counts = await _feedback.ReadAsync([.. parties], cancellationToken).ConfigureAwait(false);

            // The parties first: a tenant whose bounces put the account over the line is stopped before the risky
            // categories every tenant sends are tightened.
            for (int i = 0; i < counts.Length; i++)
            {
                EmailFeedbackCounts party = counts[i];
                if (parties[i].Dimension == FeedbackKeys.TenantPool)
                {
                    // A tenant pool reads as the tenant partition pool:<name>; its flags name the pool itself. Only a
                    // configured pool is judged (RatioBreaker.Pools.cs): a trip of any other would hold no one.
                    if (!Judges(parties[i].Partition))
                    {
                        continue;
                    }

                    await FlagIfOverAsync(EmailGuardPartyType.TenantPool, party, counts, complaint, sentAt, attribution, failure, cancellationToken, parties[i].Partition).ConfigureAwait(false);
                    continue;
                }

                switch (party.Dimension)
                {
                    case EmailGuardDimension.Tenant:
                        // Flagged by its id: the counts show it escaped when it reads as a pool (TenantPartition).
                        await FlagIfOverAsync(EmailGuardPartyType.Tenant, party, counts, complaint, sentAt, attribution, failure, cancellationToken, parties[i].Partition).ConfigureAwait(false);
                        break;
                    case EmailGuardDimension.User:
                        await FlagIfOverAsync(EmailGuardPartyType.User, party, counts, complaint, sentAt, attribution, failure, cancellationToken).ConfigureAwait(false);
                        break;
                    case EmailGuardDimension.ClientIp:
                        if (failure)
                        {
                            await BanIfOverAsync(party, complaint, attribution, cancellationToken).ConfigureAwait(false);
                        }

                        break;
                    case EmailGuardDimension.Global:
                    case EmailGuardDimension.Sender:
                    case EmailGuardDimension.Category:
                        WarnIfOver(party, complaint);
                        break;
                }
            }

            await EvaluateAccountAsync(counts, complaint, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogEvaluationFailed(_logger, LogValue.Of(ex));
        }
    }

    /// <summary>What a party's ratios call for: the reason and the action, or <see cref="EmailRatioBreakerAction.None"/>.</summary>
    /// <param name="counts">The party's counts over the window.</param>
    /// <param name="complaint">Whether a complaint (not a bounce) is judged.</param>
    /// <param name="tripped">
    /// Whether the party is tripped or tripped recently. It has lost the benefit of the minimum volume: below it, its
    /// failures are judged over the minimum, so a party held to reduced limits cannot stay under a line by sending little.
    /// </param>
    internal (string Reason, EmailRatioBreakerAction Action) Judge(EmailFeedbackCounts counts, bool complaint, bool tripped = false)
    {
        // Both horizons are judged, the time window and the last N sends: the stronger action wins.
        EmailRatioBreakerAction byTime = JudgeOver(Volume(counts), complaint ? counts.Complaints : counts.Bounces, complaint, tripped);
        EmailRatioBreakerAction byVolume = counts.LastSendsHorizon > 0
            ? JudgeOver(counts.LastSends, complaint ? counts.LastSendsComplaints : counts.LastSendsBounces, complaint, tripped)
            : EmailRatioBreakerAction.None;
        EmailRatioBreakerAction action = (EmailRatioBreakerAction)Math.Max((int)byTime, (int)byVolume);
        return action == EmailRatioBreakerAction.None
            ? (string.Empty, action)
            : (complaint ? EmailGuardFlagReasons.ComplaintRate : EmailGuardFlagReasons.HighBounceRate, action);
    }

    private EmailRatioBreakerAction JudgeOver(long volume, long failures, bool complaint, bool tripped)
    {
        if (volume < _options.MinimumSends && !tripped)
        {
            return EmailRatioBreakerAction.None;
        }

        double rate = (double)failures / Math.Max(Math.Max(volume, failures), _options.MinimumSends);
        (double reduce, double suspend) = complaint
            ? (_options.ComplaintRateToReduce, _options.ComplaintRateToSuspend)
            : (_options.BounceRateToReduce, _options.BounceRateToSuspend);
        return rate >= suspend ? EmailRatioBreakerAction.Suspended
            : rate >= reduce ? EmailRatioBreakerAction.Reduced
            : EmailRatioBreakerAction.None;
    }

    private async ValueTask FlagIfOverAsync(
        EmailGuardPartyType partyType, EmailFeedbackCounts counts, EmailFeedbackCounts[] read, bool complaint, DateTimeOffset? sentAt, EmailSendAttribution attribution, bool failure,
        CancellationToken cancellationToken, string? partyId = null)
    {
        if (_flags is null || (partyId ?? counts.Partition) is not { } party)
        {
            return;
        }

        string reason = complaint ? EmailGuardFlagReasons.ComplaintRate : EmailGuardFlagReasons.HighBounceRate;
        IReadOnlyList<EmailGuardFlag> active = await _flags.GetActiveFlagsAsync(partyType, party, cancellationToken).ConfigureAwait(false);
        EmailGuardFlag? trip = FindFlag(active, reason);
        BreakerMemory memory = new(partyType, party, reason);
        if (trip is null && FindFlag(active, HalfOpenReason(reason)) is { } probe && ProbeIdOf(probe) is { } probeId)
        {
            // Half-open: only what the party sent and got back since the trip ended decides, not the pre-trip window,
            // nor the failure of mail sent before the phase (RatioBreaker.SendTime.cs). Mail the provider never sent
            // counts no failure: the probe, with a send less when it was the probe's (AddProbeNotSentAsync), is only read.
            if (failure && await SentBeforePhaseAsync(sentAt, probe, memory, probeId, complaint, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            EmailFeedbackCounts probeCounts = failure
                ? await CountProbeFailureAsync(partyType, party, probeId, complaint, cancellationToken).ConfigureAwait(false)
                : await ReadProbeAsync(partyType, party, probeId, cancellationToken).ConfigureAwait(false);
            EmailRatioBreakerAction probeAction = JudgeProbe(probeCounts, complaint);
            if (probeAction == EmailRatioBreakerAction.None || !await ClaimRetripAsync(memory, probeId, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            // Read after the claim: only the instance that trips again reads and raises the level.
            int next = (await RememberedLevelAsync(memory, cancellationToken).ConfigureAwait(false)) + 1;
            await TripAsync(memory, probeCounts, probeAction, next, attribution, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Below the minimum volume only a party that tripped before is judged, or one whose failures alone put the account
        // over the account-wide breaker's line; the memory is read only then.
        int? remembered = null;
        bool tripped = trip is not null;
        if (!tripped && Volume(counts) < _options.MinimumSends && counts.LastSends < _options.MinimumSends)
        {
            remembered = await RememberedLevelAsync(memory, cancellationToken).ConfigureAwait(false);
            tripped = remembered > 0 || PutsAccountOver(read, counts, complaint);
        }

        (_, EmailRatioBreakerAction action) = Judge(counts, complaint, tripped);
        if (action == EmailRatioBreakerAction.None)
        {
            return;
        }

        if (TrippedAtOrAbove(trip, action))
        {
            return;
        }

        // A reduced trip that worsens to a suspension is the same trip; any other trip counts as one more.
        remembered ??= await RememberedLevelAsync(memory, cancellationToken).ConfigureAwait(false);
        if (trip is null)
        {
            // The level was read after the flags. Another instance that tripped the party in between (it writes the flag
            // before the level) made this one read its raised level and claim the level after it: the party tripped twice,
            // a level higher, flagged and paged again. Read after the level, the flags show that trip; read only here,
            // where this instance is about to trip, not at every judgement.
            trip = await ReadFlagAsync(memory, cancellationToken).ConfigureAwait(false);
            if (TrippedAtOrAbove(trip, action))
            {
                return;
            }
        }

        // A reduced trip that worsens keeps its own level, as its flag says: the memory is written after the flags, so an
        // instance that read the trip a probe's failure had just raised (level 2) could still read the memory of the
        // trip before it (level 1), and suspend the party at level 1: the escalation lost, the next trip a level short.
        int level = trip is not null ? LevelOf(trip) ?? Math.Max(1, remembered.Value) : remembered.Value + 1;

        // A provider posts a burst of bounces and the balancer spreads it over the instances, which judge the party at
        // the same time: each found it over the line before any had flagged it, and each tripped it, so every trip was
        // flagged, raised and paged once per instance. The first to claim this trip (its level and action) trips it.
        if (!await ClaimAsync($"{memory.Key}:t:{level}:{(int)action}", s_tripClaimLifetime, "claim a ratio breaker's trip", cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await TripAsync(memory, counts, action, level, attribution, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The breaker's active flag (its trip, or a category's hold) as the shared flags have it now, if any.</summary>
    private async ValueTask<EmailGuardFlag?> ReadFlagAsync(BreakerMemory memory, CancellationToken cancellationToken)
        => FindFlag(await _flags!.GetActiveFlagsAsync(memory.PartyType, memory.Party, cancellationToken).ConfigureAwait(false), memory.Reason);

    /// <summary>
    /// Whether the party is already tripped at <paramref name="action"/>'s level or above: a trip is not extended by every
    /// bounce, so it ends and goes half-open; only a reduced trip that worsens to a suspension trips it (as the same trip).
    /// </summary>
    private static bool TrippedAtOrAbove(EmailGuardFlag? trip, EmailRatioBreakerAction action)
        => trip is not null && (trip.Suspend || action == EmailRatioBreakerAction.Reduced);

    /// <summary>
    /// Claims the trip again that ends the half-open phase of <paramref name="probeId"/>: whichever instance finds the
    /// probe failed, on a bounce or at the phase's end, and whatever action it judged. A claim keyed by the level read
    /// after the flags let an instance that had read the half-open flag before another's trip again, and the level after
    /// it, trip a level higher in turn (flagged, raised and paged twice, the second trip maybe a mere reduction over the
    /// first's suspension).
    /// </summary>
    private ValueTask<bool> ClaimRetripAsync(BreakerMemory memory, string probeId, CancellationToken cancellationToken)
        => ClaimAsync($"{memory.Key}:t:p:{probeId}", s_tripClaimLifetime, "claim a ratio breaker's trip again", cancellationToken);

    /// <summary>
    /// Claims <paramref name="key"/> in the shared key-value store for <paramref name="lifetime"/>: whether this instance
    /// is the first to claim it, and so the one that acts (trips, bans, tightens, ends a phase) while the others stand by.
    /// </summary>
    private async ValueTask<bool> ClaimAsync(string key, TimeSpan lifetime, string what, CancellationToken cancellationToken)
        => await _feedback.Mappings.GetOrAddAsync(key, "1", lifetime, what, cancellationToken).ConfigureAwait(false) is null;

    private static long Volume(EmailFeedbackCounts counts) => Math.Max(counts.Sends, counts.Delivered + counts.Bounces);

    /// <summary>
    /// Logs a party over a line when it crosses it: the first time this instance finds it over, again when it reaches
    /// the higher line, and at most once an hour while it stays over. A party is judged at every bounce or complaint and
    /// stays over for as long as the window holds its failures, so a line per judgement wrote three warnings for each
    /// bounce of an incident (the account, its one sender and its category).
    /// </summary>
    private void WarnIfOver(EmailFeedbackCounts counts, bool complaint)
    {
        (string reason, EmailRatioBreakerAction action) = Judge(counts, complaint);
        var party = (counts.Dimension, counts.Partition, complaint);
        if (action == EmailRatioBreakerAction.None)
        {
            _warned.TryRemove(party, out _);
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        if (_warned.TryGetValue(party, out (EmailRatioBreakerAction Action, DateTimeOffset At) last) && last.Action >= action && now - last.At < s_warnAgainAfter)
        {
            return;
        }

        if (_warned.Count >= MaxWarnedParties)
        {
            _warned.Clear();
        }

        _warned[party] = (action, now);
        LogRatioHigh(_logger, counts.Dimension, reason, counts.BounceRate, counts.ComplaintRate, counts.Sends);
    }

    private async ValueTask TrippedAsync(
        EmailFeedbackCounts counts, string reason, EmailRatioBreakerAction action, DateTimeOffset expiresAt, EmailSendAttribution attribution,
        int level = 1, DateTimeOffset? halfOpenUntil = null, (EmailGuardDimension Dimension, string Partition)? party = null, string? pool = null)
    {
        (EmailGuardDimension dimension, string partition) = party ?? (counts.Dimension, counts.Partition!);
        if (pool is not null)
        {
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                string shownPool = LogValue.Of(pool);
                LogPoolTripped(_logger, shownPool, reason, action, counts.BounceRate, counts.ComplaintRate, counts.Sends, expiresAt);
            }
        }
        else
        {
            LogTripped(_logger, dimension, reason, action, counts.BounceRate, counts.ComplaintRate, counts.Sends, expiresAt);
        }

        _metrics?.RecordBreakerTrip(pool is not null ? PoolDimensionName : DimensionName(dimension), reason, ActionName(action));
        if (_options.OnTripped is { } onTripped)
        {
            try
            {
                await onTripped(new EmailRatioBreakerArguments
                {
                    Dimension = dimension,
                    Partition = partition,
                    TenantPool = pool,
                    Reason = reason,
                    Action = action,
                    Counts = counts,
                    ExpiresAt = expiresAt,
                    EndpointPolicy = attribution.EndpointPolicy,
                    Level = level,
                    HalfOpenUntil = halfOpenUntil,
                }).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                LogCallbackFailed(_logger, LogValue.Of(ex));
            }
        }
    }
}
