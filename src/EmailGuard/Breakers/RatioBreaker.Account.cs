using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The account-wide breaker. After each hard bounce or complaint, when the whole account's ratio, or a risky category's
/// own, reaches the tighten line, each risky category affected is flagged (<see cref="EmailGuardPartyType.Category"/>):
/// its limits are reduced on every instance through the same flags as a tenant's. The category's own ratio counts too,
/// so a bot cannot dilute the account's ratio with good-looking mail in other categories to keep its own category
/// untouched. The flag lasts <see cref="EmailRatioBreakerOptions.AccountCheckEvery"/>; shortly before its end an
/// instance reads the ratios again: still over the release line (hysteresis), it holds on; under it, it is cleared and
/// the release raised. Every instance that sees the flag follows it and the first to claim the round reads, so the
/// release is raised once, also when the instance that tightened the category has stopped.
/// </summary>
internal sealed partial class RatioBreaker
{
    private HashSet<string>? _risky;

    private HashSet<string> Risky => _risky ??= new(
        _options.RiskyCategories.Where(static c => !string.IsNullOrWhiteSpace(c)).Select(static c => c.Trim().ToLowerInvariant()), StringComparer.Ordinal);

    private static string AccountReason(bool complaint) => complaint ? EmailGuardFlagReasons.AccountComplaintRate : EmailGuardFlagReasons.AccountBounceRate;

    /// <summary>Tightens the risky categories the event's counts call for.</summary>
    private async ValueTask EvaluateAccountAsync(EmailFeedbackCounts[] counts, bool complaint, CancellationToken cancellationToken)
    {
        if (_flags is null || Risky.Count == 0)
        {
            return;
        }

        EmailFeedbackCounts? global = counts.FirstOrDefault(static c => c.Dimension == EmailGuardDimension.Global);
        if (global is not null && AccountOver(global, complaint, release: false))
        {
            foreach (string category in Risky)
            {
                await TightenAsync(category, global, complaint, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (counts.FirstOrDefault(c => c.Dimension == EmailGuardDimension.Category && c.Partition is { } name && Risky.Contains(name)) is { } own
            && AccountOver(own, complaint, release: false))
        {
            await TightenAsync(own.Partition!, own, complaint, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Whether <paramref name="party"/>'s failures are what puts the account (or the event's risky category) over the
    /// tighten line: over it with them, and without them under the release line. Such a party loses the benefit of the
    /// minimum volume. On a small account a tenant's 6 bouncing sends in 200 tightened sign-ups for every tenant (3 %),
    /// while its own 6 sends, under <see cref="EmailRatioBreakerOptions.MinimumSends"/>, tripped nothing: it could hold
    /// everyone's sign-ups and go on sending. The release line, not the tighten line, is the measure, so a party whose one
    /// bounce is merely the last to land (the others had the account at 2.9 %) is not what put it there, and keeps the
    /// minimum.
    /// </summary>
    private bool PutsAccountOver(EmailFeedbackCounts[] read, EmailFeedbackCounts party, bool complaint)
    {
        if (Risky.Count == 0)
        {
            return false;
        }

        foreach (EmailFeedbackCounts judged in read)
        {
            bool account = judged.Dimension == EmailGuardDimension.Global
                           || (judged.Dimension == EmailGuardDimension.Category && judged.Partition is { } name && Risky.Contains(name));

            // Without the party, only the ratio is judged: an account that its sends brought to the minimum volume is
            // still under the line without them when the others' ratio is.
            if (account && AccountOver(judged, complaint, release: false) && !AccountOver(Without(judged, party), complaint, release: true, minimumSends: 0))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The account's (or a category's) counts less a party's: the party's counts cover all its mail, so a category less
    /// them may read lower than it is, which only errs toward judging a party that is under the minimum volume.
    /// </summary>
    private static EmailFeedbackCounts Without(EmailFeedbackCounts total, EmailFeedbackCounts party) => new()
    {
        Dimension = total.Dimension,
        Partition = total.Partition,
        Window = total.Window,
        Timestamp = total.Timestamp,
        Sends = Math.Max(0, total.Sends - party.Sends),
        Delivered = Math.Max(0, total.Delivered - party.Delivered),
        Bounces = Math.Max(0, total.Bounces - party.Bounces),
        Complaints = Math.Max(0, total.Complaints - party.Complaints),
        LastSendsHorizon = total.LastSendsHorizon,
        LastSends = Math.Max(0, total.LastSends - party.LastSends),
        LastSendsBounces = Math.Max(0, total.LastSendsBounces - party.LastSendsBounces),
        LastSendsComplaints = Math.Max(0, total.LastSendsComplaints - party.LastSendsComplaints),
    };

    /// <summary>
    /// Whether counts are over the tighten line (or, for <paramref name="release"/>, still at or over the release line),
    /// with the minimum volume (<see cref="EmailRatioBreakerOptions.AccountMinimumSends"/>, or <paramref name="minimumSends"/>).
    /// </summary>
    private bool AccountOver(EmailFeedbackCounts counts, bool complaint, bool release, long? minimumSends = null)
    {
        long minimum = minimumSends ?? _options.AccountMinimumSends;
        double line = complaint
            ? (release ? _options.AccountComplaintRateToRelease : _options.AccountComplaintRateToTighten)
            : (release ? _options.AccountBounceRateToRelease : _options.AccountBounceRateToTighten);
        bool byTime = Volume(counts) >= minimum && (complaint ? counts.ComplaintRate : counts.BounceRate) >= line;
        bool byVolume = counts.LastSendsHorizon > 0 && counts.LastSends >= minimum
            && (complaint ? counts.LastSendsComplaintRate : counts.LastSendsBounceRate) >= line;
        return byTime || byVolume;
    }

    private async ValueTask TightenAsync(string category, EmailFeedbackCounts counts, bool complaint, CancellationToken cancellationToken)
    {
        string reason = AccountReason(complaint);
        BreakerMemory memory = new(EmailGuardPartyType.Category, category, reason);
        if (await ReadFlagAsync(memory, cancellationToken).ConfigureAwait(false) is not null)
        {
            return;
        }

        // Every instance that records a bounce of the burst may find the account over the line at once: one tightens.
        if (!await ClaimAsync(memory.Key + ":t", s_tripClaimLifetime, "claim a ratio breaker's trip", cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        EmailGuardFlag flag = await HoldAsync(memory, counts, raiseEvents: true, cancellationToken).ConfigureAwait(false);
        bool account = counts.Dimension == EmailGuardDimension.Global;
        LogAccountTightened(_logger, LogValue.Of(category), reason, account ? "the account's" : "the category's own", counts.BounceRate, counts.ComplaintRate, counts.Sends);
        await TrippedAsync(
            counts, reason, EmailRatioBreakerAction.Reduced, flag.ExpiresAt, new EmailSendAttribution(), party: (EmailGuardDimension.Category, category)).ConfigureAwait(false);
    }

    /// <summary>Flags the category for <see cref="EmailRatioBreakerOptions.AccountCheckEvery"/> and schedules the next reading.</summary>
    private async ValueTask<EmailGuardFlag> HoldAsync(BreakerMemory memory, EmailFeedbackCounts counts, bool raiseEvents, CancellationToken cancellationToken)
    {
        Dictionary<string, string> metadata = new(StringComparer.Ordinal)
        {
            ["scope"] = counts.Dimension == EmailGuardDimension.Global ? "account" : "category",
            ["bounce_rate"] = counts.BounceRate.ToString("0.####", CultureInfo.InvariantCulture),
            ["complaint_rate"] = counts.ComplaintRate.ToString("0.#####", CultureInfo.InvariantCulture),
            ["sends"] = counts.Sends.ToString(CultureInfo.InvariantCulture),
        };
        EmailGuardFlag flag = await FlagAsync(memory, memory.Reason, suspend: false, _options.AccountCheckEvery, metadata, cancellationToken, raiseEvents).ConfigureAwait(false);

        ScheduleCheck(memory, flag.ExpiresAt);
        return flag;
    }

    /// <summary>
    /// Schedules the reading of a tightened category a little before its flag (ending at <paramref name="expiresAt"/>)
    /// ends, so a category still over the release line is never released in between. The flag's end, in whole seconds
    /// (as every store keeps it), names the round that instances claim.
    /// </summary>
    private void ScheduleCheck(BreakerMemory memory, DateTimeOffset expiresAt)
    {
        TimeSpan margin = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerMinute, _options.AccountCheckEvery.Ticks / 10));
        DateTimeOffset at = expiresAt - margin;
        string round = Round(expiresAt);
        if (_disposed)
        {
            return;
        }

        if (!_recoveries.ContainsKey(memory.Key) && _recoveries.Count >= MaxPendingRecoveries)
        {
            LogRecoveryNotScheduled(_logger, EmailGuardDimension.Category, MaxPendingRecoveries);
            return;
        }

        TimeSpan due = at - _time.GetUtcNow();
        ITimer timer = _time.CreateTimer(_ => Track(CheckAccountAsync(memory, round)), null, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        if (_recoveries.TryGetValue(memory.Key, out ITimer? previous))
        {
            previous.Dispose();
        }

        _probes[memory.Key] = round;
        _recoveries[memory.Key] = timer;
    }

    private static string Round(DateTimeOffset expiresAt) => "a" + expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Holds a tightened category on while the account or the category is at or over the release line; releases it
    /// otherwise. Every instance that follows the category's flag gets here; the first to claim the round decides it.
    /// </summary>
    private async Task CheckAccountAsync(BreakerMemory memory, string round)
    {
        bool held = false;
        try
        {
            if (!await ClaimAsync(memory.Key + ":" + round, _options.AccountCheckEvery, "claim a reading of a tightened category", CancellationToken.None).ConfigureAwait(false))
            {
                return;
            }

            // The ratios decide, not whether the flag is still there: a reading that comes late (a paused process) finds
            // it expired, and a category still over the line is held again all the same. So is one an operator cleared.
            bool complaint = string.Equals(memory.Reason, EmailGuardFlagReasons.AccountComplaintRate, StringComparison.Ordinal);
            List<(EmailGuardDimension, string?)> read = [(EmailGuardDimension.Global, null), (EmailGuardDimension.Category, memory.Party)];
            EmailFeedbackCounts[] counts = await _feedback.ReadAsync(read, CancellationToken.None).ConfigureAwait(false);
            EmailFeedbackCounts? over = counts.FirstOrDefault(c => AccountOver(c, complaint, release: true));
            if (over is not null)
            {
                await HoldAsync(memory, over, raiseEvents: false, CancellationToken.None).ConfigureAwait(false);
                held = true;
                return;
            }

            // A reading that goes on late (a paused process, a starved thread pool) may find the flag it read for ended and
            // the category tightened again by another instance, on bounces this reading did not count. Cleared, that
            // tightening was lost and a release raised over it; it is another round's, and that round's reading decides it.
            if (await ReadFlagAsync(memory, CancellationToken.None).ConfigureAwait(false) is { } current
                && !string.Equals(Round(current.ExpiresAt), round, StringComparison.Ordinal))
            {
                return;
            }

            await _flags!.ClearAsync(
                EmailGuardPartyType.Category, memory.Party, memory.Reason, "the account's ratios fell under the release line", By, cancellationToken: CancellationToken.None)
                .ConfigureAwait(false);

            // Another instance may have tightened the category again between the read of the flag above and the clear,
            // on bounces this reading did not count: the clear removed that tightening too. Those bounces were counted
            // before its flag was written, so a reading made after the clear counts them: over the tighten line, the
            // category is held again, quietly (that instance announced the tightening), and nothing is released.
            try
            {
                EmailFeedbackCounts[] after = await _feedback.ReadAsync(read, CancellationToken.None).ConfigureAwait(false);
                if (after.FirstOrDefault(c => AccountOver(c, complaint, release: false)) is { } tightenedMeanwhile)
                {
                    await HoldAsync(memory, tightenedMeanwhile, raiseEvents: false, CancellationToken.None).ConfigureAwait(false);
                    held = true;
                    return;
                }

                counts = after;
            }
            catch (EmailGuardStoreUnavailableException)
            {
                // The clear is done: the category is released. Said so with the reading that decided it, rather than
                // left unsaid (no release logged, no OnRecovered) while whoever follows the events believes it tightened.
            }

            EmailFeedbackCounts global = counts[0];
            long failures = complaint ? global.Complaints : global.Bounces;
            string shownParty = LogValue.Of(memory.Party);
            LogAccountReleased(_logger, shownParty, memory.Reason, global.BounceRate, global.ComplaintRate, global.Sends);
            if (_options.OnRecovered is { } onRecovered)
            {
                try
                {
                    await onRecovered(new EmailRatioBreakerRecoveredArguments
                    {
                        Dimension = EmailGuardDimension.Category,
                        Partition = memory.Party,
                        Reason = memory.Reason,
                        ProbeSends = global.Sends,
                        ProbeFailures = failures,
                        Level = 1,
                        RecoveredAt = _time.GetUtcNow(),
                    }).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogCallbackFailed(_logger, LogValue.Of(ex));
                }
            }
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(_logger, EmailGuardDimension.Category, LogValue.Of(ex));
        }
        finally
        {
            // Only this round's timer: a hold (here or, adopted, from another instance) has scheduled the next one.
            if (!held && _probes.TryRemove(new KeyValuePair<string, string>(memory.Key, round))
                && _recoveries.TryGetValue(memory.Key, out ITimer? timer) && _recoveries.TryRemove(new KeyValuePair<string, ITimer>(memory.Key, timer)))
            {
                timer.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 2603, EventName = "AccountBreakerTightened", Level = LogLevel.Warning,
        Message = "The risky category {Category} is held to reduced limits ({Reason}): {Scope} bounce rate is {BounceRate:P2} and complaint rate {ComplaintRate:P3} over {Sends} sends.")]
    private static partial void LogAccountTightened(
        ILogger logger, string category, string reason, string scope, double bounceRate, double complaintRate, long sends);

    [LoggerMessage(EventId = 2604, EventName = "AccountBreakerReleased", Level = LogLevel.Information,
        Message = "The risky category {Category} is released ({Reason}): the account's bounce rate is {BounceRate:P2} and complaint rate {ComplaintRate:P3} over {Sends} sends, under the release lines.")]
    private static partial void LogAccountReleased(ILogger logger, string category, string reason, double bounceRate, double complaintRate, long sends);
}
