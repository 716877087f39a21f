using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Acquires whose counters lie in several Redis Cluster slots: one script per slot, in the order
/// <see cref="RedisSlotPlanner"/> plans, and on a denial or a failure what was reserved is given back.
/// </summary>
internal sealed partial class RedisRateLimitStore
{

    /// <summary>
    /// Splits an acquire over several cluster slots: reserve slot by slot in ascending slot order (a fixed order, so
    /// two acquires over the same slots contend in the same sequence), all with the time the first script read; on
    /// a denial, give back what was reserved and peek the slots not yet visited so every entry is filled.
    /// </summary>
    private async ValueTask<RateLimitDecision> DecideAcrossSlotsAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        List<int[]> groups,
        bool commit,
        long clientNow,
        long started,
        CancellationToken cancellationToken)
    {
        bool wantEntries = !results.IsEmpty;
        long? now = _useServerTime ? null : clientNow;
        RedisScriptOutcome merged = new(0, -1, 0);
        int reserved = 0;
        int deniedGroup = -1;
        for (int g = 0; g < groups.Count; g++)
        {
            RedisScriptOutcome outcome;
            try
            {
                outcome = await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit, now, wantEntries, cancellationToken, started)
                    .ConfigureAwait(false);
            }
            catch when (commit && reserved > 0)
            {
                // The acquire fails as a whole (the master of this slot died, timed out or answered an error), so the
                // slots already reserved must not keep permits for it. This slot's own script may still have run; its
                // permits are left alone, since giving back what was never taken would let a limit be exceeded.
                Log.CrossSlotAcquireFailed(_logger, groups.Count, reserved);
                await GiveBackAfterFailureAsync(database, requests, keys, groups, reserved, now!.Value).ConfigureAwait(false);
                throw;
            }

            now ??= outcome.NowMs;
            merged = merged.Merge(outcome);
            if (commit && outcome.DeniedIndex >= 0)
            {
                deniedGroup = g;
                break;
            }

            reserved = g + 1;
        }

        merged = merged with { NowMs = now!.Value };
        if (!commit || deniedGroup < 0)
        {
            return merged.ToDecision(commit ? NextAcquisitionId() : 0);
        }

        return await GiveBackAfterDenialAsync(database, requests, results, keys, groups, reserved, deniedGroup + 1, now.Value, started, merged, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Ends an acquire across slots that a group denied, slot by slot or node by node alike: gives back the first
    /// <paramref name="reserved"/> groups, reads them again for their entries, and peeks the groups from
    /// <paramref name="firstUnvisited"/> on, so every entry is filled as a single-script denial would fill it.
    /// </summary>
    /// <remarks>
    /// Redis has denied the acquire by now; what follows only gives back and fills entries. So it must not outlast the
    /// resilience timeout: a master that hangs in a give-back or a read (paused, failing over) would otherwise keep the
    /// denial until the wrapper's timeout answered the acquire by the failure mode, which fail-open admits. At three
    /// quarters of that timeout from the acquire's start, the denial is answered with the entries known when Redis
    /// denied (a reserved group's as the reservation saw them, less the request's own cost, which is being given back:
    /// see <see cref="LeaveOutReservations"/>; a group not reached empty), and the give-backs finish in the background,
    /// on copies of the requests, since the caller may reuse its buffers once answered.
    /// </remarks>
    private async ValueTask<RateLimitDecision> GiveBackAfterDenialAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        List<int[]> groups,
        int reserved,
        int firstUnvisited,
        long now,
        long started,
        RedisScriptOutcome merged,
        CancellationToken cancellationToken)
    {
        Log.CrossSlotAcquireDenied(_logger, groups.Count, reserved);
        LeaveOutReservations(requests.Span, results.Span, groups, reserved);
        RateLimitEntry[]? entries = results.IsEmpty ? null : results.ToArray();
        Task<RedisScriptOutcome> settling = SettleDenialAsync(
            database, requests.ToArray(), entries, keys, groups, reserved, firstUnvisited, now, merged, cancellationToken);
        return (await AnswerDenialInTimeAsync(settling, entries, results, started, groups.Count, merged).ConfigureAwait(false)).ToDecision(0);
    }

    /// <summary>
    /// Takes each request's own cost back out of the entries of the first <paramref name="reserved"/> groups, which their
    /// reservations filled as admitted (count after the cost), so they read as a single-script denial's do: the count
    /// before this request's cost. These are the entries a denial keeps when it is answered before its reads, or when a
    /// read fails; a count that held the reservation given back would put one message more on every counter than it
    /// holds (a party's own copies of a text read one copy high, and a party exactly at its own limit was a
    /// bulk_content trip). The reset times stay the reservations' own.
    /// </summary>
    private static void LeaveOutReservations(ReadOnlySpan<RateLimitRequest> requests, Span<RateLimitEntry> results, List<int[]> groups, int reserved)
    {
        if (results.IsEmpty)
        {
            return;
        }

        for (int g = 0; g < reserved; g++)
        {
            foreach (int i in groups[g])
            {
                RateLimitEntry entry = results[i];
                results[i] = new RateLimitEntry(entry.IsAllowed, Math.Max(0, entry.Count - requests[i].Cost), entry.Limit, entry.RetryAfter, entry.ResetAt);
            }
        }
    }

    /// <summary>
    /// The outcome of <paramref name="settling"/>, the work that follows a denial on copies of the caller's requests and
    /// entries, with its entries copied into <paramref name="results"/>, if it finishes by three quarters of the
    /// resilience timeout from the acquire's start; else <paramref name="denied"/>, the denial as Redis gave it, with
    /// <paramref name="results"/> as they were, while the work finishes in the background (see <see cref="GiveBackAfterDenialAsync"/>).
    /// </summary>
    private async Task<RedisScriptOutcome> AnswerDenialInTimeAsync(
        Task<RedisScriptOutcome> settling, RateLimitEntry[]? entries, Memory<RateLimitEntry> results, long started, int slots, RedisScriptOutcome denied)
    {
        TimeSpan left = (_maxQueueWait * 3 / 4) - _timeProvider.GetElapsedTime(started);
        try
        {
            RedisScriptOutcome settled = await settling.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _timeProvider, CancellationToken.None).ConfigureAwait(false);
            entries?.CopyTo(results);
            return settled;
        }
        catch (TimeoutException)
        {
            Log.DeniedAnsweredBeforeReads(_logger, slots, (long)_timeProvider.GetElapsedTime(started).TotalMilliseconds);
            Track(ObserveAsync(settling));
            return denied;
        }
    }

    /// <summary>
    /// The give-backs and reads of <see cref="GiveBackAfterDenialAsync"/>, on its own copies of the requests and entries;
    /// returns the outcome merged with the groups it peeked.
    /// </summary>
    private async Task<RedisScriptOutcome> SettleDenialAsync(
        IDatabase database,
        RateLimitRequest[] requests,
        RateLimitEntry[]? entries,
        RedisKey[] keys,
        List<int[]> groups,
        int reserved,
        int firstUnvisited,
        long now,
        RedisScriptOutcome merged,
        CancellationToken cancellationToken)
    {
        Memory<RateLimitEntry> results = entries;
        bool wantEntries = entries is not null;

        // Every reservation is given back even when one give-back fails: Redis denied the acquire, and a failed
        // give-back must neither keep the other masters' permits nor turn that denial into a store failure (which
        // fail-open would admit).
        bool[] notGivenBack = await GiveBackReservedAsync(database, requests, keys, groups, reserved, now, denied: true).ConfigureAwait(false);

        // The reads below only fill the denial's entries (and find whether a master not reached would deny too). Redis
        // has denied the acquire and every reservation is given back, so a read that fails (a master that died or
        // lost its scripts since, a counter of another type) must not turn the denial into a store failure either:
        // fail-open would admit it. The entries of the counters not read are left as they were.
        try
        {
            for (int g = 0; g < reserved && wantEntries; g++)
            {
                // A group whose give-back failed still holds this request's permits: read again, its entries would count
                // them (a party exactly at its own limit, 4 + 1 of 5, read as 5 + 1 and was a bulk_content trip at this
                // very denial). Its entries stay the reservation's, less the request's own cost (LeaveOutReservations).
                if (notGivenBack[g])
                {
                    continue;
                }

                // Read the given-back counters again rather than patching the reservation's entries: the reset time of a
                // sliding window depends on which segments still hold permits, so only a fresh read reports what a
                // single-script denial would.
                await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit: false, now, wantEntries, cancellationToken)
                    .ConfigureAwait(false);
            }

            for (int g = firstUnvisited; g < groups.Count; g++)
            {
                RedisScriptOutcome outcome = await EvaluateGroupAsync(database, requests, results, keys, groups[g], commit: false, now, wantEntries, cancellationToken)
                    .ConfigureAwait(false);
                merged = merged.Merge(outcome);
            }
        }
#pragma warning disable CA1031 // Whatever the read failed with, the denial it would have refined stands.
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            Log.DeniedReadFailed(_logger, groups.Count, LogValue.Of(ex));
        }

        return merged;
    }

    /// <summary>Waits for work whose caller was answered without it; a cancellation it ends with has no one left to reach.</summary>
    private static async Task ObserveAsync(Task work)
    {
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Gives back the slots an acquire reserved before it failed (see <see cref="GiveBackReservedAsync"/>).</summary>
    private async ValueTask GiveBackAfterFailureAsync(
        IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, List<int[]> groups, int reserved, long acquiredAtMs)
        => await GiveBackReservedAsync(database, requests, keys, groups, reserved, acquiredAtMs, denied: false).ConfigureAwait(false);

    /// <summary>
    /// Gives back the first <paramref name="reserved"/> groups an acquire reserved before a later group denied it or
    /// failed, each on its own. Not under the caller's token: a caller that cancelled or gave up must still not leave
    /// permits held. A give-back that fails is logged, not thrown, and the others are still given back: the acquire's
    /// own denial or failure is what surfaces, and a permit left held only makes that limit stricter until its window ends.
    /// Returns, per group, whether its give-back failed.
    /// </summary>
    private async ValueTask<bool[]> GiveBackReservedAsync(
        IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, List<int[]> groups, int reserved, long acquiredAtMs, bool denied)
    {
        bool[] failed = new bool[reserved];
        for (int g = 0; g < reserved; g++)
        {
            try
            {
                await RefundGroupAsync(database, requests, keys, groups[g], acquiredAtMs, acquiredAtMs, 0, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // See the summary: whatever the give-back's failure, the acquire's denial or failure is the one to report.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failed[g] = true;
                if (denied)
                {
                    Log.DeniedGiveBackFailed(_logger, groups.Count, LogValue.Of(ex));
                }
                else
                {
                    Log.CrossSlotGiveBackFailed(_logger, LogValue.Of(ex));
                }
            }
        }

        return failed;
    }

    private async ValueTask<RedisScriptOutcome> EvaluateGroupAsync(
        IDatabase database,
        ReadOnlyMemory<RateLimitRequest> requests,
        Memory<RateLimitEntry> results,
        RedisKey[] keys,
        int[] group,
        bool commit,
        long? now,
        bool wantEntries,
        CancellationToken cancellationToken,
        long? startedAt = null,
        long reserveMaxWaitMs = -1)
    {
        RedisKey[] groupKeys = new RedisKey[group.Length];
        for (int k = 0; k < group.Length; k++)
        {
            groupKeys[k] = keys[group[k]];
        }

        RedisValue[] arguments = RedisScriptCodec.AcquireArguments(
            requests.Span, group, commit, now is { } ms ? ms : RedisScriptCodec.ServerTime, wantEntries, _useServerTime, reserveMaxWaitMs);
        RedisResult raw = commit
            ? await AwaitAcquireAsync(
                SendAcquireAsync(database, s_acquireScript, new RedisScriptCall(groupKeys, arguments), startedAt ?? _timeProvider.GetTimestamp(), cancellationToken),
                requests,
                group,
                s_admittedAtOfAcquire,
                cancellationToken)
                .ConfigureAwait(false)
            : await ScriptsOf(database).EvaluateAsync(database, s_acquireScript, groupKeys, arguments, cancellationToken, startedAt).ConfigureAwait(false);
        return RedisScriptCodec.ReadOutcome(raw, requests.Span, group, wantEntries ? results.Span : default);
    }

    /// <summary>
    /// Returns the requests grouped by hash slot (groups in ascending slot order, requests in call order), or
    /// <see langword="null"/> when one script can take them all: every key in one slot, or a server that is not a cluster.
    /// </summary>
    private async ValueTask<List<int[]>?> SpansSeveralSlotsAsync(ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, CancellationToken cancellationToken)
    {
        if (RedisSlotPlanner.IsOnePartition(requests.Span) || !_connection.IsCluster)
        {
            return null;
        }

        IConnectionMultiplexer multiplexer = await _connection.GetMultiplexerAsync(cancellationToken).ConfigureAwait(false);
        return RedisSlotPlanner.GroupBySlot(keys, multiplexer);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 311, EventName = "RedisCrossSlotAcquireDenied", Level = LogLevel.Debug,
            Message = "A Redis Cluster acquire over {Slots} hash slots was denied after {Reserved} slot(s) had been reserved; they were given back.")]
        public static partial void CrossSlotAcquireDenied(ILogger logger, int slots, int reserved);

        [LoggerMessage(EventId = 312, EventName = "RedisCrossSlotAcquireFailed", Level = LogLevel.Debug,
            Message = "A Redis Cluster acquire over {Slots} hash slots failed after {Reserved} slot(s) had been reserved; they are being given back.")]
        public static partial void CrossSlotAcquireFailed(ILogger logger, int slots, int reserved);

        [LoggerMessage(EventId = 313, EventName = "RedisCrossSlotGiveBackFailed", Level = LogLevel.Warning,
            Message = "Permits reserved by a failed Redis Cluster acquire could not be given back; those counters stay stricter until their windows end.")]
        public static partial void CrossSlotGiveBackFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 2830, EventName = "RedisCrossSlotDeniedGiveBackFailed", Level = LogLevel.Warning,
            Message = "Permits a Redis Cluster acquire over {Slots} hash slots reserved before it was denied could not be given back in one slot; the others were, the acquire is still denied, and that slot's counters stay stricter until their windows end.")]
        public static partial void DeniedGiveBackFailed(ILogger logger, int slots, Exception exception);

        [LoggerMessage(EventId = 2850, EventName = "RedisCrossSlotDeniedReadFailed", Level = LogLevel.Warning,
            Message = "A Redis Cluster acquire over {Slots} hash slots was denied and its reservations given back, but reading its counters for the denial's entries failed; the acquire is still denied, with the entries read so far.")]
        public static partial void DeniedReadFailed(ILogger logger, int slots, Exception exception);

        [LoggerMessage(EventId = 2870, EventName = "RedisCrossSlotDeniedAnsweredBeforeReads", Level = LogLevel.Warning,
            Message = "A Redis Cluster acquire over {Slots} hash slots was denied, but its give-backs and reads had not finished {ElapsedMs} ms after it started (a master slow or unreachable); the denial is answered now with the entries known, and the give-backs finish in the background.")]
        public static partial void DeniedAnsweredBeforeReads(ILogger logger, int slots, long elapsedMs);
    }
}
