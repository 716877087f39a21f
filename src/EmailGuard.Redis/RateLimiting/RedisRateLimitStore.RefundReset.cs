using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>Giving permits back and resetting counters: the scripts that undo what acquires took.</summary>
internal sealed partial class RedisRateLimitStore
{
    private async ValueTask ResetCoreAsync(string key, RateLimitRule rule, CancellationToken cancellationToken)
    {
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        long index = WindowIndex(rule, now);
        string prefix = _connection.KeyPrefix;
        RedisKey[] keys = index == RedisCounterKey.NoWindow
            ? [CounterKey(key, rule, now), RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index)]

            // An instance whose clock lags may still count into the previous window's key during the grace.
            : [CounterKey(key, rule, now), CounterKey(key, rule, now - rule.WindowMilliseconds),
                RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index), RedisCounterKey.Tombstone(prefix, key, rule.ShapeId, index - 1)];
        RedisValue[] arguments = [_useServerTime ? RedisScriptCodec.ServerTime : now, rule.HoldMilliseconds + ExpiryGraceMilliseconds];
        try
        {
            await _scripts.EvaluateAsync(database, s_resetScript, keys, arguments, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Even a reset that failed may have reached Redis.
            _overLimit?.Invalidate(key, rule.ShapeId);
        }
    }

    /// <summary>
    /// Gives back what an acquire took: its buckets' permits taken for <paramref name="acquiredAtMs"/>, its windows'
    /// counted at <paramref name="decidedAtMs"/> (the same time but for a reservation admitted ahead).
    /// </summary>
    private async ValueTask<bool> RefundCoreAsync(
        ReadOnlyMemory<RateLimitRequest> requests, long acquiredAtMs, long decidedAtMs, long acquisitionId, CancellationToken cancellationToken)
    {
        IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
        RedisKey[] keys = BuildKeys(requests.Span, decidedAtMs);
        List<int[]>? groups = requests.Length > 1 ? await SpansSeveralSlotsAsync(requests, keys, cancellationToken).ConfigureAwait(false) : null;
        if (groups is null)
        {
            return await RefundGroupAsync(database, requests, keys, null, acquiredAtMs, decidedAtMs, acquisitionId, cancellationToken).ConfigureAwait(false);
        }

        // Each slot's counters carry their own marker, so a refund that failed half-way can be repeated for the rest.
        // A slot that refuses (a counter that is no integer, checked before the slot's first write) stops the refund
        // there: the slots before it stay given back, since taking their permits again could over-count a window
        // that admitted meanwhile; they gave back less than the decision took, never more.
        // The refund is reported by the call that claims the marker of one slot, visited last: every call, copies of
        // the decision through any instance included, visits the slots in the same order, and a slot's marker is
        // claimed by the script that gives it back, so that call finds every other slot given back, by itself or by a
        // copy, and no other call can claim it. Reporting any slot claimed, a copy that won the first slot and one
        // that won the second both said true. The deciding slot is the last (by slot) that holds the decision's
        // longest rule: its marker lives as long as any of the decision's windows, so no late copy claims it again.
        int last = DecidingGroup(requests.Span, groups);
        bool refunded = false;
        int done = 0;
        try
        {
            for (int g = 0; g <= groups.Count; g++)
            {
                if (g == last)
                {
                    continue;
                }

                int[] group = groups[g == groups.Count ? last : g];
                refunded = await RefundGroupAsync(database, requests, keys, group, acquiredAtMs, decidedAtMs, acquisitionId, cancellationToken).ConfigureAwait(false);
                done++;
            }
        }
        catch (Exception ex) when (done > 0 && acquisitionId != 0)
        {
            Log.RefundFailedPartWay(_logger, groups.Count, done, LogValue.Of(ex));
            throw;
        }

        return refunded;
    }

    /// <summary>The index of the last group (by slot) that holds a request of the longest rule (by hold).</summary>
    private static int DecidingGroup(ReadOnlySpan<RateLimitRequest> requests, List<int[]> groups)
    {
        int deciding = 0;
        long longest = -1;
        for (int g = 0; g < groups.Count; g++)
        {
            foreach (int i in groups[g])
            {
                if (requests[i].Rule.HoldMilliseconds >= longest)
                {
                    longest = requests[i].Rule.HoldMilliseconds;
                    deciding = g;
                }
            }
        }

        return deciding;
    }

    /// <summary>
    /// Gives back one slot's requests (all of them when <paramref name="group"/> is null). A caller's refund names its
    /// acquisition, whose marker makes it count once; the store's own give-back of a reservation passes 0.
    /// </summary>
    private async ValueTask<bool> RefundGroupAsync(
        IDatabase database, ReadOnlyMemory<RateLimitRequest> requests, RedisKey[] keys, int[]? group, long acquiredAtMs, long decidedAtMs, long acquisitionId, CancellationToken cancellationToken)
    {
        ReadOnlySpan<RateLimitRequest> span = requests.Span;
        int n = group?.Length ?? span.Length;
        RedisKey[] groupKeys = new RedisKey[(2 * n) + (acquisitionId == 0 ? 0 : 1)];
        string prefix = _connection.KeyPrefix;
        RateLimitRule longest = span[group is null ? 0 : group[0]].Rule;
        for (int k = 0; k < n; k++)
        {
            int i = group is null ? k : group[k];
            RateLimitRule rule = span[i].Rule;
            groupKeys[k] = keys[i];
            groupKeys[n + k] = RedisCounterKey.Tombstone(prefix, span[i].Key, rule.ShapeId, WindowIndex(rule, decidedAtMs));
            longest = rule.HoldMilliseconds > longest.HoldMilliseconds ? rule : longest;
        }

        long markerTtl = longest.HoldMilliseconds + ExpiryGraceMilliseconds;
        if (acquisitionId != 0)
        {
            groupKeys[2 * n] = RedisCounterKey.RefundMarker(prefix, span[group is null ? 0 : group[0]].Key, acquisitionId, longest.ShapeId);
        }

        RedisResult reply;
        try
        {
            reply = await ScriptsOf(database).EvaluateAsync(
                    database, s_refundScript, groupKeys, RedisScriptCodec.RefundArguments(span, group, acquiredAtMs, decidedAtMs, acquisitionId == 0 ? 0 : markerTtl, _useServerTime ? RedisScriptCodec.ServerTime : _timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), _useServerTime), cancellationToken)
                .ConfigureAwait(false);
        }
        finally
        {
            // Even a refund that failed may have reached Redis; and a store's give-back of a reservation counts too,
            // since a concurrent acquire may have seen the reservation and been denied by it.
            InvalidateOverLimit(requests.Span, group);
        }

        return (long)reply == 1;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2871, EventName = "RedisCrossSlotRefundFailedPartWay", Level = LogLevel.Warning,
            Message = "A refund of a Redis Cluster decision over {Slots} hash slots failed after {Done} slot(s) had been given back; those stay given back. Repeating the refund gives back the rest, each slot once.")]
        public static partial void RefundFailedPartWay(ILogger logger, int slots, int done, Exception exception);
    }
}
