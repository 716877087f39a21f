using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The single fixed-window acquire, the call every guarded request makes, and the one a flood repeats on one key:
/// its scripts, which <see cref="RedisSingleKeyCoalescer"/> sends one at a time or coalesced, and their answers.
/// </summary>
internal sealed partial class RedisRateLimitStore : RedisSingleKeyCoalescer.ISender
{
    /// <summary>The keys with an acquire in flight; for tests.</summary>
    internal int LaneCount => _coalescer.LaneCount;

    private ValueTask<RateLimitDecision> AcquireOneAsync(RateLimitRequest request, Memory<RateLimitEntry> results, long now, CancellationToken cancellationToken)
    {
        string key = RedisCounterKey.Create(_connection.KeyPrefix, request.Key, request.Rule.ShapeId, WindowIndex(request.Rule, now));
        return _coalescer.AcquireAsync(key, request, results, now, cancellationToken);
    }

    /// <summary>
    /// One acquire of one fixed-window counter in one script; as the leader of <paramref name="leading"/>, it hands
    /// that lane on once decided or failed (one async method per lone acquire, not a leader's wrapper around it).
    /// </summary>
    /// <remarks>
    /// Its state machine, the largest allocation of a single-key acquire (about 350 bytes: the request, the results,
    /// the pending reply and the cancellation path), comes from a pool: the returned task is awaited once (or turned
    /// into a <see cref="Task"/> once), as every <see cref="ValueTask{TResult}"/> of the store's contract.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RateLimitDecision> SendOneAsync(
        string key, RateLimitRequest request, Memory<RateLimitEntry> results, long now, long startedAt, RedisSingleKeyCoalescer.KeyLane? leading, CancellationToken cancellationToken)
    {
        try
        {
            long epoch = _overLimit?.Epoch ?? 0;
            IDatabase database = await _connection.GetDatabaseAsync(cancellationToken).ConfigureAwait(false);
            RateLimitRule rule = request.Rule;
            long window = rule.WindowMilliseconds;
            int shift = RedisScriptCodec.PackingShift(window);
            ValueTask<RedisResult> sending = _useServerTime
                ? SendAcquireAsync(database, s_acquireOneServerScript, new RedisScriptCall(key, rule.Limit, request.Cost, window, 1L << shift), startedAt, cancellationToken)
                : SendAcquireAsync(
                    database,
                    s_acquireOneClientScript,
                    new RedisScriptCall(key, rule.Limit, request.Cost, rule.GetWindowEnd(now) - now + ExpiryGraceMilliseconds),
                    startedAt,
                    cancellationToken);
            RedisResult raw;
            if (!cancellationToken.CanBeCanceled)
            {
                raw = await sending.ConfigureAwait(false);
            }
            else
            {
                // A caller who can cancel stops waiting at once, and what the script took is given back when it completes.
                Task<RedisResult> sent = sending.AsTask();
                try
                {
                    raw = await sent.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !sent.IsCanceled)
                {
                    GiveBackWhenDone(sent, [request], AdmittedAtOfOne(request, now, shift));
                    throw;
                }
            }

            (long count, long left) = _useServerTime ? RedisScriptCodec.Unpack(raw, shift) : ((long)raw, 0);
            return Decide(request, results, count, left, now, epoch, startedAt);
        }
        finally
        {
            if (leading is not null)
            {
                _coalescer.Release(leading);
            }
        }
    }

    /// <summary>Reads a single acquire's reply: the decision's time if it admitted, else null.</summary>
    private Func<RedisResult, (long At, long DecidedAt)?> AdmittedAtOfOne(RateLimitRequest request, long now, int shift) => raw =>
    {
        (long count, long left) = _useServerTime ? RedisScriptCodec.Unpack(raw, shift) : ((long)raw, 0);
        RateLimitDecision decision = Decide(request, default, count, left, now, NotObserved, 0);
        long at = decision.Timestamp.ToUnixTimeMilliseconds();
        return decision.Status == RateLimitStatus.Allowed ? (at, at) : null;
    };

    /// <summary>Several coalesced acquires of one fixed-window counter in one script, each admitted if it still fits.</summary>
    public async Task SendSeveralAsync(string key, List<RedisSingleKeyCoalescer.Waiter> batch, RateLimitDecision[] decisions, RateLimitEntry[] entries)
    {
        long epoch = _overLimit?.Epoch ?? 0;
        IDatabase database = await _connection.GetDatabaseAsync(CancellationToken.None).ConfigureAwait(false);
        RateLimitRule rule = batch[0].Request.Rule;
        long window = rule.WindowMilliseconds;
        int shift = RedisScriptCodec.PackingShift(window);

        // On the client clock every waiter named the same window (the key carries it); if the window and its grace
        // have already passed by now, the counter lives a millisecond and counts for nobody, as it should.
        long ttl = _useServerTime
            ? 0
            : Math.Clamp(
                rule.GetWindowEnd(batch[0].Now) - _timeProvider.GetUtcNow().ToUnixTimeMilliseconds() + ExpiryGraceMilliseconds,
                1,
                window + ExpiryGraceMilliseconds);
        RedisValue[] arguments = new RedisValue[4 + (2 * batch.Count)];
        arguments[0] = _useServerTime ? RedisScriptCodec.One : RedisScriptCodec.Zero;
        arguments[1] = window;
        arguments[2] = ttl;
        arguments[3] = 1L << shift;
        for (int i = 0; i < batch.Count; i++)
        {
            arguments[4 + (2 * i)] = batch[i].Request.Rule.Limit;
            arguments[5 + (2 * i)] = batch[i].Request.Cost;
        }

        // The retry budget counts from the first waiter's arrival: its caller's timeout started then.
        long startedAt = batch[0].QueuedAt;
        for (int i = 1; i < batch.Count; i++)
        {
            startedAt = Math.Min(startedAt, batch[i].QueuedAt);
        }

        RedisResult raw = await _scripts.EvaluateAsync(database, s_acquireBatchScript, [key], arguments, CancellationToken.None, startedAt).ConfigureAwait(false);
        (long count, long left) = _useServerTime ? RedisScriptCodec.Unpack(raw, shift) : ((long)raw, 0);

        // The script took them in this order, each if it fit; replaying the same rule gives each its answer.
        for (int i = 0; i < batch.Count; i++)
        {
            RateLimitRequest request = batch[i].Request;
            long withCost = count + request.Cost;
            if (withCost <= request.Rule.Limit)
            {
                count = withCost;
            }

            decisions[i] = Decide(request, entries.AsMemory(i, 1), withCost, left, batch[i].Now, epoch, startedAt);
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
    /// finds it. The answer also tells the over-limit cache about the counter, unless <paramref name="epoch"/> is
    /// <see cref="NotObserved"/>; its entry ends <paramref name="serverLeftMs"/> after <paramref name="sentAt"/>, a local
    /// timestamp from before the script was sent, so that it never outlives the window however late the reply came.
    /// </remarks>
    private RateLimitDecision Decide(in RateLimitRequest request, Memory<RateLimitEntry> results, long countWithCost, long serverLeftMs, long callerNowMs, long epoch, long sentAt)
    {
        long window = request.Rule.WindowMilliseconds;
        long reset;
        long retry;
        long decidedAt;
        if (_useServerTime)
        {
            long now = _timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            reset = request.Rule.GetWindowIndex(now + serverLeftMs + 1 + (window / 2)) * window;
            retry = serverLeftMs + 1;
            decidedAt = Math.Clamp(now, reset - window, reset - 1);
        }
        else
        {
            reset = request.Rule.GetWindowEnd(callerNowMs);
            retry = reset - callerNowMs;
            decidedAt = callerNowMs;
        }

        bool allowed = countWithCost <= request.Rule.Limit;
        long count = allowed ? countWithCost : countWithCost - request.Cost;
        TimeSpan retryAfter = allowed ? TimeSpan.Zero : TimeSpan.FromMilliseconds(retry);
        if (!results.IsEmpty)
        {
            results.Span[0] = new RateLimitEntry(allowed, count, request.Rule.Limit, retryAfter, DateTimeOffset.FromUnixTimeMilliseconds(reset));
        }

        if (_overLimit is { } overLimit && epoch != NotObserved)
        {
            // An admission that fills the counter tells as much as the denial after it would: the flood's next request
            // is denied here, and a window of a flood costs Redis its one admission.
            if (count >= request.Rule.Limit)
            {
                overLimit.Add(request.Key, request.Rule.ShapeId, WindowIndex(request.Rule, callerNowMs), count, reset, retry, epoch, sentAt);
            }
            else if (allowed)
            {
                overLimit.Forget(request.Key, request.Rule.ShapeId);
            }
        }

        return new RateLimitDecision(
            allowed ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded, allowed ? -1 : 0, retryAfter, DateTimeOffset.FromUnixTimeMilliseconds(decidedAt),
            allowed ? NextAcquisitionId() : 0);
    }
}
