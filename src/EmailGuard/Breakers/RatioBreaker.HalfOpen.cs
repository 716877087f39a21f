using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;

namespace EmailGuard;

/// <summary>
/// A tenant's or user's breaker as a circuit. A trip writes two flags at once: the trip (reduced or suspended) until
/// its end, and the half-open flag (reduced limits) until <see cref="EmailRatioBreakerOptions.HalfOpenFor"/> after it,
/// so every instance applies both phases on its own clock with no hand-over. While only the half-open flag is active,
/// each admitted message of the party counts into probe counters keyed by the flag's probe id, and a bounce or
/// complaint is judged over the probe alone (over at least <see cref="EmailRatioBreakerOptions.HalfOpenMinimumSends"/>).
/// Over a line it trips again, for longer. Every instance times the end of each half-open phase it sees in the flags
/// (<c>RatioBreaker.Recovery.cs</c>), and the first to claim that end in the shared key-value store reads the probe and
/// raises the recovery, or trips again, once, whichever instance tripped it. How often a party tripped is remembered
/// in the shared key-value store, so the escalation holds across instances and across a recovery.
/// </summary>
internal sealed partial class RatioBreaker
{
    /// <summary>The most probe counters one send adds: two reasons for each of tenant, tenant pool and user.</summary>
    internal const int MaxProbeSends = 6;

    private const string ProbeMetadata = "probe";
    private const string LevelMetadata = "level";

    /// <summary>The flag reason of the half-open phase after a trip of <paramref name="reason"/>.</summary>
    internal static string HalfOpenReason(string reason)
        => string.Equals(reason, EmailGuardFlagReasons.ComplaintRate, StringComparison.OrdinalIgnoreCase)
            ? EmailGuardFlagReasons.ComplaintRateHalfOpen
            : EmailGuardFlagReasons.HighBounceRateHalfOpen;

    /// <summary>The level a trip's flag was written with (<see cref="TripAsync"/>), or null when it has none (an operator's flag).</summary>
    private static int? LevelOf(EmailGuardFlag flag)
        => flag.Metadata is { } metadata && metadata.TryGetValue(LevelMetadata, out string? text)
           && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int level)
            ? Math.Clamp(level, 1, 1_000)
            : null;

    /// <summary>The active flag of <paramref name="reason"/>, if any.</summary>
    internal static EmailGuardFlag? FindFlag(IEnumerable<EmailGuardFlag> active, string reason)
    {
        foreach (EmailGuardFlag flag in active)
        {
            if (string.Equals(flag.Reason, reason, StringComparison.OrdinalIgnoreCase))
            {
                return flag;
            }
        }

        return null;
    }

    /// <summary>
    /// The probe id of a half-open flag: only what <see cref="NewProbeId"/> writes (base64url, at most 32 characters),
    /// since the id becomes part of counter and key-value keys and a flag's metadata can be written by anyone with the
    /// admin API; anything else is no probe.
    /// </summary>
    private static string? ProbeIdOf(EmailGuardFlag flag)
        => flag.Metadata is { } metadata && metadata.TryGetValue(ProbeMetadata, out string? id) && IsProbeId(id) ? id : null;

    private static bool IsProbeId(string id)
    {
        if (id.Length is 0 or > 32)
        {
            return false;
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Adds the probe-send counters of the message's tenant and user when they are half-open (in this instance's
    /// snapshot of the flags), to the batch that counts the send. No store call of its own; nothing without flags.
    /// </summary>
    internal void AddProbeSends(EmailSendAttribution attribution, List<RateLimitRequest> requests)
    {
        Span<RateLimitRequest> probes = new RateLimitRequest[MaxProbeSends];
        int count = WriteProbeSends(attribution.TenantId, attribution.TenantPool?.ToLowerInvariant(), attribution.UserId, 1, probes);
        for (int i = 0; i < count; i++)
        {
            requests.Add(probes[i]);
        }
    }

    /// <summary>
    /// Writes the probe counters a send is counted under, for the tenant, its pool and the user in a half-open phase, to
    /// <paramref name="into"/> (at least <see cref="MaxProbeSends"/> long); the guard takes them in its own acquire.
    /// Each counts <paramref name="sends"/>: a message's distinct recipients, as its failures come back one per recipient.
    /// </summary>
    /// <param name="tenantId">The tenant, or null.</param>
    /// <param name="pool">The tenant's pool (lower case), or null.</param>
    /// <param name="userId">The user, or null.</param>
    /// <param name="sends">What each probe counter counts.</param>
    /// <param name="into">Where to write.</param>
    /// <param name="poolHeld">
    /// False when the check found the pool's limits not cut by any flag: a half-open pool's are (its flag reduces them to
    /// <see cref="EmailRatioBreakerOptions.ReducedLimitFactor"/>), so the pool's flags are not read a second time for an
    /// unflagged pool. Ignored when that factor is 1, which cuts nothing.
    /// </param>
    /// <returns>How many were written: none unless a party is half-open.</returns>
    internal int WriteProbeSends(string? tenantId, string? pool, string? userId, long sends, Span<RateLimitRequest> into, bool poolHeld = true)
    {
        if (_probeRule is not { } rule || _state is null || !_options.Enabled)
        {
            return 0;
        }

        // The snapshot the check just used: counting a send never starts a load of its own.
        if (_state.Current is not { HasFlags: true } snapshot)
        {
            return 0;
        }

        if (!poolHeld && _options.ReducedLimitFactor < 1)
        {
            pool = null;
        }

        DateTimeOffset now = _time.GetUtcNow();
        int count = 0;
        for (int p = 0; p < 3; p++)
        {
            (EmailGuardPartyType partyType, string? party) = p switch
            {
                0 => (EmailGuardPartyType.Tenant, tenantId),
                1 => (EmailGuardPartyType.TenantPool, pool),
                _ => (EmailGuardPartyType.User, userId),
            };
            if (party is null)
            {
                continue;
            }

            List<EmailGuardFlag> active = [.. snapshot.GetActiveFlags(partyType, party, now)];
            foreach (string reason in (ReadOnlySpan<string>)[EmailGuardFlagReasons.HighBounceRate, EmailGuardFlagReasons.ComplaintRate])
            {
                if (FindFlag(active, reason) is null && FindFlag(active, HalfOpenReason(reason)) is { } probe && ProbeIdOf(probe) is { } probeId)
                {
                    into[count++] = new RateLimitRequest(ProbeKey(FeedbackKeys.Sends, partyType, probeId, party), rule, sends);
                }
            }
        }

        return count;
    }

    /// <summary>
    /// Adds the probe counters of mail the provider never sent to <paramref name="requests"/>, for the event's own
    /// acquire: one not-sent for each of the mail's tenant, pool and user that is half-open in this instance's snapshot
    /// of the flags, where the send was counted in the phase. The send's time says so as for a failure
    /// (<see cref="SentInPhaseAsync"/>); an unknown one is taken as in the phase (its trip's flag is gone), on the side
    /// of fewer probe sends, which only raises the probe's ratios. Nothing without half-open flags.
    /// </summary>
    internal async ValueTask AddProbeNotSentAsync(EmailSendAttribution attribution, DateTimeOffset? sentAt, List<RateLimitRequest> requests, CancellationToken cancellationToken)
    {
        if (_probeRule is not { } rule || _state is null || !_options.Enabled || _state.Current is not { HasFlags: true } snapshot)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        for (int p = 0; p < 3; p++)
        {
            (EmailGuardPartyType partyType, string? party) = p switch
            {
                0 => (EmailGuardPartyType.Tenant, attribution.TenantId),
                1 => (EmailGuardPartyType.TenantPool, attribution.TenantPool?.ToLowerInvariant()),
                _ => (EmailGuardPartyType.User, attribution.UserId),
            };
            if (party is null)
            {
                continue;
            }

            List<EmailGuardFlag> active = [.. snapshot.GetActiveFlags(partyType, party, now)];
            foreach (string reason in (string[])[EmailGuardFlagReasons.HighBounceRate, EmailGuardFlagReasons.ComplaintRate])
            {
                if (FindFlag(active, reason) is null && FindFlag(active, HalfOpenReason(reason)) is { } probe && ProbeIdOf(probe) is { } probeId
                    && (sentAt is not { } sent || await SentInPhaseAsync(sent, probe, new BreakerMemory(partyType, party, reason), probeId, cancellationToken).ConfigureAwait(false)))
                {
                    requests.Add(new RateLimitRequest(ProbeKey(FeedbackKeys.NotSent, partyType, probeId, party), rule));
                }
            }
        }
    }

    /// <summary>What a half-open probe calls for: its failures over its sends, or over the minimum volume when it sent less.</summary>
    internal EmailRatioBreakerAction JudgeProbe(EmailFeedbackCounts probe, bool complaint)
    {
        long failures = complaint ? probe.Complaints : probe.Bounces;
        double rate = (double)failures / Math.Max(probe.Sends, _options.HalfOpenMinimumSends);
        (double reduce, double suspend) = complaint
            ? (_options.ComplaintRateToReduce, _options.ComplaintRateToSuspend)
            : (_options.BounceRateToReduce, _options.BounceRateToSuspend);
        return rate >= suspend ? EmailRatioBreakerAction.Suspended
            : rate >= reduce ? EmailRatioBreakerAction.Reduced
            : EmailRatioBreakerAction.None;
    }

    /// <summary>How long a trip of <paramref name="level"/> lasts: <see cref="EmailRatioBreakerOptions.TripFor"/>, escalated and capped.</summary>
    internal TimeSpan Period(int level)
    {
        double ticks = _options.TripFor.Ticks * Math.Pow(_options.EscalationFactor, Math.Max(0, level - 1));
        long capped = ticks >= _options.MaxTripFor.Ticks ? _options.MaxTripFor.Ticks : (long)ticks;

        // Whole seconds, so flags read the same on every store.
        return TimeSpan.FromSeconds(Math.Max(1, capped / TimeSpan.TicksPerSecond));
    }

    /// <summary>Trips a tenant or user: the trip flag, the half-open flag after it, the memory of the level, the recovery timer, the events.</summary>
    private async ValueTask TripAsync(
        BreakerMemory memory, EmailFeedbackCounts counts, EmailRatioBreakerAction action, int level, EmailSendAttribution attribution, CancellationToken cancellationToken)
    {
        TimeSpan period = Period(level);
        Dictionary<string, string> metadata = new(StringComparer.Ordinal)
        {
            ["bounce_rate"] = counts.BounceRate.ToString("0.####", CultureInfo.InvariantCulture),
            ["complaint_rate"] = counts.ComplaintRate.ToString("0.#####", CultureInfo.InvariantCulture),
            ["sends"] = counts.Sends.ToString(CultureInfo.InvariantCulture),
            [LevelMetadata] = level.ToString(CultureInfo.InvariantCulture),
        };
        bool suspend = action == EmailRatioBreakerAction.Suspended;
        EmailGuardFlag flag = await FlagAsync(memory, memory.Reason, suspend, period, metadata, cancellationToken).ConfigureAwait(false);
        string probeId = string.Empty;
        DateTimeOffset? halfOpenUntil = null;
        if (_probeRule is not null)
        {
            // Written after the trip flag: no instance ever sees the half-open flag alone before the trip has ended.
            probeId = NewProbeId();
            Dictionary<string, string> probeMetadata = new(StringComparer.Ordinal)
            {
                [ProbeMetadata] = probeId,
                [LevelMetadata] = level.ToString(CultureInfo.InvariantCulture),
                [PhaseStartMetadata] = PhaseStartText(flag.ExpiresAt),
            };
            EmailGuardFlag probe = await FlagAsync(
                memory, HalfOpenReason(memory.Reason), suspend: false, period + _options.HalfOpenFor, probeMetadata, cancellationToken, raiseEvents: false).ConfigureAwait(false);
            halfOpenUntil = probe.ExpiresAt;
        }

        await _feedback.Mappings.SetAsync(
            memory.Key, level.ToString(CultureInfo.InvariantCulture) + "|" + probeId, period + _options.HalfOpenFor + _options.EscalationMemory, cancellationToken)
            .ConfigureAwait(false);
        if (halfOpenUntil is { } until)
        {
            ScheduleRecovery(memory, probeId, level, until);
        }

        await TrippedAsync(counts, memory.Reason, action, flag.ExpiresAt, attribution, level, halfOpenUntil, pool: memory.Pool).ConfigureAwait(false);
    }

    private ValueTask<EmailGuardFlag> FlagAsync(
        BreakerMemory memory, string reason, bool suspend, TimeSpan duration, Dictionary<string, string> metadata, CancellationToken cancellationToken,
        bool raiseEvents = true)
    {
        var policy = new FlagPolicy { Suspend = suspend, LimitFactor = _options.ReducedLimitFactor, Duration = duration };
        return _flags is EmailGuardFlags concrete
            ? concrete.FlagAsync(memory.PartyType, memory.Party, reason, policy, duration, By, metadata, cancellationToken, raiseEvents)
            : _flags!.FlagAsync(memory.PartyType, memory.Party, reason, duration, By, metadata, cancellationToken);
    }

    /// <summary>How many times in a row the party tripped, as the shared key-value store remembers it; 0 when it does not.</summary>
    private async ValueTask<int> RememberedLevelAsync(BreakerMemory memory, CancellationToken cancellationToken)
        => ParseMemory(await _feedback.Mappings.GetAsync(memory.Key, cancellationToken).ConfigureAwait(false)).Level;

    private static (int Level, string? ProbeId) ParseMemory(string? value)
    {
        if (value is null)
        {
            return (0, null);
        }

        int bar = value.IndexOf('|', StringComparison.Ordinal);
        string levelText = bar < 0 ? value : value[..bar];
        int level = int.TryParse(levelText, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? Math.Clamp(parsed, 0, 1_000) : 0;
        return (level, bar < 0 ? null : value[(bar + 1)..]);
    }

    /// <summary>Counts one failure into the probe and reads the probe's counts.</summary>
    private async ValueTask<EmailFeedbackCounts> CountProbeFailureAsync(
        EmailGuardPartyType partyType, string party, string probeId, bool complaint, CancellationToken cancellationToken)
    {
        char kind = complaint ? 'c' : 'b';
        RateLimitRequest[] failure = [new(ProbeKey(kind, partyType, probeId, party), _probeRule!)];
        RateLimitDecision counted = await _feedback.Store.AcquireAsync(failure, new RateLimitEntry[1], StoreFailureMode.FailClosed, cancellationToken).ConfigureAwait(false);
        if (counted.Status != RateLimitStatus.Allowed)
        {
            throw new EmailGuardStoreUnavailableException("The EmailGuard store did not answer: a half-open probe's bounce could not be counted.");
        }

        return await ReadProbeAsync(partyType, party, probeId, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<EmailFeedbackCounts> ReadProbeAsync(EmailGuardPartyType partyType, string party, string probeId, CancellationToken cancellationToken)
    {
        RateLimitRequest[] requests =
        [
            new(ProbeKey(FeedbackKeys.Sends, partyType, probeId, party), _probeRule!, 0),
            new(ProbeKey('b', partyType, probeId, party), _probeRule!, 0),
            new(ProbeKey('c', partyType, probeId, party), _probeRule!, 0),
            new(ProbeKey(FeedbackKeys.NotSent, partyType, probeId, party), _probeRule!, 0),
        ];
        RateLimitEntry[] entries = new RateLimitEntry[requests.Length];
        RateLimitDecision decision = await _feedback.Store.PeekAsync(requests, entries, cancellationToken).ConfigureAwait(false);
        if (decision.Status == RateLimitStatus.StoreUnavailable)
        {
            throw new EmailGuardStoreUnavailableException("The EmailGuard store did not answer: a half-open probe could not be read.");
        }

        return new EmailFeedbackCounts
        {
            Dimension = partyType == EmailGuardPartyType.User ? EmailGuardDimension.User : EmailGuardDimension.Tenant,
            Partition = PartitionOf(partyType, party),
            Sends = EmailGuardFeedback.Sent(entries[0].Count, entries[3].Count, entries[1].Count, entries[2].Count),
            Bounces = entries[1].Count,
            Complaints = entries[2].Count,
            Window = _options.HalfOpenFor,
            Timestamp = decision.Timestamp,
        };
    }

    /// <summary>
    /// A party as its counts and events show it: a tenant pool as the tenant partition <c>pool:&lt;name&gt;</c>, a tenant
    /// whose id reads as a pool's escaped (<see cref="TenantPartition"/>), so the two never show the same partition.
    /// </summary>
    private static string PartitionOf(EmailGuardPartyType partyType, string party) => partyType switch
    {
        EmailGuardPartyType.TenantPool => TenantPoolRules.PartitionPrefix + party,
        EmailGuardPartyType.Tenant => TenantPartition.Of(party),
        _ => party,
    };

    private static string ProbeKey(char kind, EmailGuardPartyType partyType, string probeId, string party)
        => PartitionKeys.ForId($"fb:p{kind}:{partyType switch { EmailGuardPartyType.Tenant => 't', EmailGuardPartyType.TenantPool => 'p', _ => 'u' }}:{probeId}:", party);

    private static string NewProbeId()
    {
        Span<byte> random = stackalloc byte[9];
        RandomNumberGenerator.Fill(random);
        return Base64Url.EncodeToString(random);
    }

    /// <summary>One party's breaker of one reason, and the key under which the shared store remembers its level and probe.</summary>
    private readonly record struct BreakerMemory(EmailGuardPartyType PartyType, string Party, string Reason)
    {
        public string Key => $"{KeyPrefix}{PartyLetter}:{ReasonLetter}:{StoreKeyEncoding.Hash(Party)}";

        /// <summary>The pool's name when the party is a tenant pool, else null.</summary>
        public string? Pool => PartyType == EmailGuardPartyType.TenantPool ? Party : null;

        /// <summary>The party as its counts and events name it (<see cref="PartitionOf"/>).</summary>
        public string Partition => PartitionOf(PartyType, Party);

        private char PartyLetter => PartyType switch
        {
            EmailGuardPartyType.Tenant => 't',
            EmailGuardPartyType.User => 'u',
            EmailGuardPartyType.TenantPool => 'p',
            _ => 'k',
        };

        private char ReasonLetter => Reason switch
        {
            EmailGuardFlagReasons.ComplaintRate => 'c',
            EmailGuardFlagReasons.AccountBounceRate => 'B',
            EmailGuardFlagReasons.AccountComplaintRate => 'C',
            _ => 'b',
        };

        public EmailGuardDimension Dimension => PartyType switch
        {
            EmailGuardPartyType.Tenant or EmailGuardPartyType.TenantPool => EmailGuardDimension.Tenant,
            EmailGuardPartyType.User => EmailGuardDimension.User,
            _ => EmailGuardDimension.Category,
        };
    }
}
