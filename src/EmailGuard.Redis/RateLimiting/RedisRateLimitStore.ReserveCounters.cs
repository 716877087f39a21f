using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Reservations on Redis Cluster whose counters (window rules with limit <see cref="RateLimitRule.MaxLimit"/>, which
/// cannot deny) lie in hash slots of their own: the rules that can deny are reserved first, as if the counters were
/// not there, and only an admitted reservation counts the counters' slots, at the time it was decided.
/// </summary>
/// <remarks>
/// Counters are best effort there: they never deny the reservation, and when counting them fails after the
/// reservation was admitted, the reservation stands and the lost count is logged (event 2700); a later refund of the
/// reservation then takes the lost count from the counter all the same, which only makes a ratio over it more cautious.
/// Within one slot, or on one node, a counter is taken in the reservation's own script.
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    /// <summary>
    /// Splits the slots of a reservation into those with a rule that can deny and those that hold only counters; null
    /// when either kind is missing, and the reservation is decided across slots as usual.
    /// </summary>
    private static (List<int[]> Constrained, List<int[]> Counters)? SplitCounterSlots(ReadOnlySpan<RateLimitRequest> requests, List<int[]> groups)
    {
        List<int[]> constrained = [];
        List<int[]> counters = [];
        foreach (int[] group in groups)
        {
            bool onlyCounters = true;
            foreach (int i in group)
            {
                onlyCounters &= requests[i].Rule.IsCounter;
            }

            (onlyCounters ? counters : constrained).Add(group);
        }

        return constrained.Count == 0 || counters.Count == 0 ? null : (constrained, counters);
    }

    /// <summary>
    /// Reserves the slots with rules that can deny (one slot: ahead, within <paramref name="maxWaitMs"/>; several: now
    /// or not at all, as across slots), then, when admitted, counts the counter-only slots at the decision's time; when
    /// denied, reads them, so every entry is filled.
    /// </summary>
    private async ValueTask<RateLimitDecision> ReserveThenCountAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        List<int[]> constrained,
        List<int[]> counters,
        long clientNow,
        long started,
        long maxWaitMs,
        CancellationToken cancellationToken)
    {
        bool wantEntries = !results.IsEmpty;
        RateLimitDecision decision;
        if (constrained.Count == 1)
        {
            RedisScriptOutcome outcome = await EvaluateGroupAsync(
                    database, requests, results, keys, constrained[0], commit: true, _useServerTime ? null : clientNow, wantEntries, cancellationToken, started, maxWaitMs)
                .ConfigureAwait(false);
            decision = outcome.ToDecision(outcome.DeniedIndex < 0 ? NextAcquisitionId() : 0);
        }
        else
        {
            decision = await DecideAcrossSlotsAsync(database, requests, results, keys, constrained, commit: true, clientNow, started, cancellationToken).ConfigureAwait(false);
        }

        long decidedAt = decision.DecidedAt.ToUnixTimeMilliseconds();
        if (!decision.IsAllowed)
        {
            if (wantEntries)
            {
                // Only the entries of the counters are missing: as after a denial across slots, neither a failed nor a
                // hanging read may turn the denial into a store failure, which fail-open admits.
                RateLimitEntry[] entries = results.ToArray();
                // Nothing of the counters' slots was reserved: the settling only peeks them, every one "not reached".
                Task<RedisScriptOutcome> reading = SettleDenialAsync(
                    database, requests.ToArray(), entries, keys, counters, reserved: 0, firstUnvisited: 0, decidedAt, default, cancellationToken);
                await AnswerDenialInTimeAsync(reading, entries, results, started, constrained.Count + counters.Count, default).ConfigureAwait(false);
            }

            return decision;
        }

        // The reservation stands whatever happens now: not under the caller's token, and a failure only loses counts.
        foreach (int[] group in counters)
        {
            try
            {
                RedisScriptOutcome counted = await EvaluateGroupAsync(database, requests, results, keys, group, commit: true, decidedAt, wantEntries, CancellationToken.None)
                    .ConfigureAwait(false);
                if (counted.DeniedIndex >= 0)
                {
                    Log.ReservationCountLost(_logger, group.Length, null);
                }
            }
#pragma warning disable CA1031 // See the remarks: a count lost after an admitted reservation is logged, never thrown.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.ReservationCountLost(_logger, group.Length, LogValue.Of(ex));
                FillUncounted(requests.Span, results.Span, group, decidedAt);
            }
        }

        return decision;
    }

    /// <summary>The entries of counters whose count was lost: admitted (they never deny), counting only this call's cost.</summary>
    private static void FillUncounted(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, int[] group, long decidedAtMs)
    {
        if (results.IsEmpty)
        {
            return;
        }

        foreach (int i in group)
        {
            RateLimitRule rule = requests[i].Rule;
            long resetAt = rule.Algorithm == RateLimitAlgorithm.FixedWindow ? rule.GetWindowEnd(decidedAtMs) : decidedAtMs + rule.WindowMilliseconds;
            results[i] = new RateLimitEntry(true, requests[i].Cost, rule.Limit, TimeSpan.Zero, DateTimeOffset.FromUnixTimeMilliseconds(resetAt));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2700, EventName = "RedisReservationCountLost", Level = LogLevel.Warning,
            Message = "A reservation was admitted, but {Counters} counter(s) in another Redis Cluster slot could not be counted; the reservation stands, and the counts (best effort, such as the ratio breakers' send counts) miss it.")]
        public static partial void ReservationCountLost(ILogger logger, int counters, Exception? exception);
    }
}
