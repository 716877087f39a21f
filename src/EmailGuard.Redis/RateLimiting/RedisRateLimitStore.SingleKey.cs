using System.Collections.Concurrent;
using System.Numerics;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The single fixed-window acquire, the call every guarded request makes, and the one a flood repeats on one key.
/// </summary>
/// <remarks>
/// <para>
/// Concurrent acquires of one counter are coalesced: while one script for a key is in flight, later acquires of that
/// key wait in its lane, and when the script returns, all of them go to Redis as one script that takes them in
/// arrival order, each admitted if it still fits. A flood of one key then costs Redis one script per round trip
/// instead of one per request, and the decisions are those of the same acquires made one after another: the counter
/// never passes the limit, and an acquire is denied only if it did not fit.
/// </para>
/// <para>
/// A lane holds at most <see cref="MaxCoalesced"/> waiting acquires; beyond that an acquire goes to Redis on its own,
/// so a stalled server cannot make a lane grow without bound. Idle lanes are removed, so lanes exist only for keys
/// with an acquire in flight.
/// </para>
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    internal const int MaxCoalesced = 256;

    private readonly ConcurrentDictionary<string, KeyLane> _lanes = new(StringComparer.Ordinal);

    /// <summary>The keys with an acquire in flight; for tests.</summary>
    internal int LaneCount => _lanes.Count;

    private ValueTask<RateLimitDecision> AcquireOneAsync(RateLimitRequest request, Memory<RateLimitEntry> results, CancellationToken cancellationToken)
    {
        long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        string key = RedisCounterKey.Create(_connection.KeyPrefix, request.Key, request.Rule.Id, WindowIndex(request.Rule, now));
        while (true)
        {
            KeyLane lane = _lanes.GetOrAdd(key, static _ => new KeyLane());
            bool lead;
            lock (lane)
            {
                if (lane.Closed)
                {
                    continue;
                }

                lead = !lane.Busy;
                if (lead)
                {
                    lane.Busy = true;
                }
                else if (lane.Waiting is not { Count: >= MaxCoalesced })
                {
                    Waiter waiter = new(request, results, now);
                    (lane.Waiting ??= []).Add(waiter);
                    return new(WithCancellation(waiter.Task, cancellationToken));
                }
            }

            return SendOneAsync(lead ? lane : null, key, request, results, now, cancellationToken);
        }
    }

    /// <summary>One acquire in one script; as a lane's leader, hands the lane on to whoever waited meanwhile.</summary>
    private async ValueTask<RateLimitDecision> SendOneAsync(
        KeyLane? lane, string key, RateLimitRequest request, Memory<RateLimitEntry> results, long now, CancellationToken cancellationToken)
    {
        try
        {
            IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
            RateLimitRule rule = request.Rule;
            long window = rule.WindowMilliseconds;
            RedisKey[] keys = [key];
            RedisScript script;
            RedisValue[] arguments;
            int shift = PackingShift(window);
            if (_useServerTime)
            {
                script = s_acquireOneServerScript;
                arguments = [rule.Limit, request.Cost, window, 1L << shift];
            }
            else
            {
                script = s_acquireOneClientScript;
                arguments = [rule.Limit, request.Cost, ClientWindowEnd(now, window) - now + ExpiryGraceMilliseconds];
            }

            RedisResult raw;
            try
            {
                raw = await WithCancellation(database.ScriptEvaluateAsync(script.Hash, keys, arguments), cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (IsNoScript(ex))
            {
                raw = await EvaluateTextAsync(database, script, keys, arguments, cancellationToken).ConfigureAwait(false);
            }

            (long count, long left) = _useServerTime ? Unpack(raw, shift) : ((long)raw, 0);
            return Decide(request, results, count, left, now);
        }
        finally
        {
            if (lane is not null)
            {
                Drain(lane, key);
            }
        }
    }

    /// <summary>Sends what waited in the lane, or closes the lane if nothing did.</summary>
    private void Drain(KeyLane lane, string key)
    {
        List<Waiter>? batch;
        lock (lane)
        {
            batch = lane.Waiting;
            lane.Waiting = null;
            if (batch is null)
            {
                lane.Busy = false;
                lane.Closed = true;
                _lanes.TryRemove(new KeyValuePair<string, KeyLane>(key, lane));
                return;
            }
        }

        _ = SendBatchAsync(lane, key, batch);
    }

    /// <summary>
    /// Sends waiting acquires of one key as one script, and answers each of them. A failure fails them all, each
    /// to be handled by its own caller (the resilience wrapper turns it into the failure mode).
    /// </summary>
    private async Task SendBatchAsync(KeyLane lane, string key, List<Waiter> batch)
    {
        RateLimitDecision[] decisions = new RateLimitDecision[batch.Count];
        Exception? failure = null;
        try
        {
            if (batch.Count == 1)
            {
                Waiter only = batch[0];
                decisions[0] = await SendOneAsync(null, key, only.Request, only.Results, only.Now, CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await SendSeveralAsync(key, batch, decisions).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        // The lane moves on (or closes) before anyone is answered, so an answered caller never finds it still busy.
        Drain(lane, key);
        for (int i = 0; i < batch.Count; i++)
        {
            if (failure is null)
            {
                batch[i].TrySetResult(decisions[i]);
            }
            else
            {
                batch[i].TrySetException(failure);
            }
        }
    }

    private async Task SendSeveralAsync(string key, List<Waiter> batch, RateLimitDecision[] decisions)
    {
        IDatabase database = await _connection.GetDatabaseAsync(CancellationToken.None).ConfigureAwait(false);
        RateLimitRule rule = batch[0].Request.Rule;
        long window = rule.WindowMilliseconds;
        int shift = PackingShift(window);
        long clientNow = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();

        // On the client clock every waiter named the same window (the key carries it); if the window and its grace
        // have already passed by now, the counter lives a millisecond and counts for nobody, as it should.
        long ttl = _useServerTime ? 0 : Math.Max(1, ClientWindowEnd(batch[0].Now, window) - clientNow + ExpiryGraceMilliseconds);
        RedisValue[] arguments = new RedisValue[4 + (2 * batch.Count)];
        arguments[0] = _useServerTime ? s_one : s_zero;
        arguments[1] = window;
        arguments[2] = ttl;
        arguments[3] = 1L << shift;
        for (int i = 0; i < batch.Count; i++)
        {
            arguments[4 + (2 * i)] = batch[i].Request.Rule.Limit;
            arguments[5 + (2 * i)] = batch[i].Request.Cost;
        }

        RedisResult raw = await EvaluateAsync(database, s_acquireBatchScript, [key], arguments, CancellationToken.None).ConfigureAwait(false);
        (long count, long left) = _useServerTime ? Unpack(raw, shift) : ((long)raw, 0);

        // The script took them in this order, each if it fit; replaying the same rule gives each its answer.
        for (int i = 0; i < batch.Count; i++)
        {
            RateLimitRequest request = batch[i].Request;
            long withCost = count + request.Cost;
            if (withCost <= request.Rule.Limit)
            {
                count = withCost;
            }

            decisions[i] = Decide(request, batch[i].Results, withCost, left, batch[i].Now);
        }
    }

    /// <summary>
    /// Answers one acquire from its counter after it (with its cost; above the limit it was denied) and, on server
    /// time, the server's milliseconds left in the window's last millisecond.
    /// </summary>
    /// <remarks>
    /// On the client clock the window is the one the caller's clock named. On server time the retry-after is the
    /// server's, exactly; the window's end is placed on the window grid with the app's clock, which is exact while the
    /// clocks differ by less than half a window, and the decision's time is kept inside that window so that a refund
    /// finds it.
    /// </remarks>
    private RateLimitDecision Decide(in RateLimitRequest request, Memory<RateLimitEntry> results, long countWithCost, long serverLeftMs, long callerNowMs)
    {
        long window = request.Rule.WindowMilliseconds;
        long reset;
        long retry;
        long decidedAt;
        if (_useServerTime)
        {
            long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            reset = WindowMath.FloorDiv(now + serverLeftMs + 1 + (window / 2), window) * window;
            retry = serverLeftMs + 1;
            decidedAt = Math.Clamp(now, reset - window, reset - 1);
        }
        else
        {
            reset = ClientWindowEnd(callerNowMs, window);
            retry = reset - callerNowMs;
            decidedAt = callerNowMs;
        }

        bool allowed = countWithCost <= request.Rule.Limit;
        long count = allowed ? countWithCost : countWithCost - request.Cost;
        TimeSpan retryAfter = allowed ? TimeSpan.Zero : WindowMath.Milliseconds(retry);
        if (!results.IsEmpty)
        {
            results.Span[0] = new RateLimitEntry(allowed, count, request.Rule.Limit, retryAfter, WindowMath.FromUnixMilliseconds(reset));
        }

        return new RateLimitDecision(
            allowed ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded, allowed ? -1 : 0, retryAfter, WindowMath.FromUnixMilliseconds(decidedAt));
    }

    private static long ClientWindowEnd(long nowMs, long windowMs) => (WindowMath.FloorDiv(nowMs, windowMs) + 1) * windowMs;

    /// <summary>The bits the server's packed replies leave to the milliseconds: a power of two above any time left in the window.</summary>
    private static int PackingShift(long windowMs) => 64 - BitOperations.LeadingZeroCount((ulong)windowMs);

    private static (long Count, long LeftMs) Unpack(RedisResult raw, int shift)
    {
        if (raw.Resp2Type == ResultType.Integer)
        {
            long packed = (long)raw;
            return (packed >> shift, packed & ((1L << shift) - 1));
        }

        RedisResult[] pair = (RedisResult[])raw!;
        return ((long)pair[0], (long)pair[1]);
    }

    /// <summary>The acquires of one key: whether a script is in flight, and who waits for the next one.</summary>
    private sealed class KeyLane
    {
        public bool Busy;
        public bool Closed;
        public List<Waiter>? Waiting;
    }

    /// <summary>
    /// An acquire waiting in a lane. Its continuation runs on the thread pool, never inline where the batch is
    /// answered, so one slow caller cannot hold up the others or the lane.
    /// </summary>
    private sealed class Waiter(RateLimitRequest request, Memory<RateLimitEntry> results, long now)
        : TaskCompletionSource<RateLimitDecision>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public RateLimitRequest Request { get; } = request;

        public Memory<RateLimitEntry> Results { get; } = results;

        public long Now { get; } = now;
    }
}
