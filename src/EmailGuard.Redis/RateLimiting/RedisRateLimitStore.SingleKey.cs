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
        string key = RedisCounterKey.Create(_connection.KeyPrefix, request.Key, request.Rule.ShapeId, WindowIndex(request.Rule, now));
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
                    Waiter waiter = new(request, results, now, _timeProvider.GetTimestamp());
                    (lane.Waiting ??= []).Add(waiter);
                    waiter.CancelWith(cancellationToken);
                    return new(waiter.Task);
                }
            }

            return SendOneAsync(lead ? lane : null, key, request, results, now, _timeProvider.GetTimestamp(), cancellationToken);
        }
    }

    /// <summary>One acquire in one script; as a lane's leader, hands the lane on to whoever waited meanwhile.</summary>
    private async ValueTask<RateLimitDecision> SendOneAsync(
        KeyLane? lane, string key, RateLimitRequest request, Memory<RateLimitEntry> results, long now, long startedAt, CancellationToken cancellationToken)
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
                arguments = [rule.Limit, request.Cost, rule.GetWindowEnd(now) - now + ExpiryGraceMilliseconds];
            }

            cancellationToken.ThrowIfCancellationRequested();
            Task<RedisResult> sent = database.ScriptEvaluateAsync(script.Hash, keys, arguments);
            RedisResult raw;
            try
            {
                raw = await WithCancellation(sent, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (IsRetriable(ex))
            {
                raw = await AwaitAcquireAsync(
                    RecoverAsync(database, script, keys, arguments, ex, startedAt, cancellationToken), new[] { request }, null, AdmittedAtOfOne(request, now, shift), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !sent.IsCanceled)
            {
                GiveBackWhenDone(sent, [request], AdmittedAtOfOne(request, now, shift));
                throw;
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

    /// <summary>Reads a single acquire's reply: the decision's time if it admitted, else null.</summary>
    private Func<RedisResult, long?> AdmittedAtOfOne(RateLimitRequest request, long now, int shift) => raw =>
    {
        (long count, long left) = _useServerTime ? Unpack(raw, shift) : ((long)raw, 0);
        RateLimitDecision decision = Decide(request, default, count, left, now);
        return decision.Status == RateLimitStatus.Allowed ? decision.Timestamp.ToUnixTimeMilliseconds() : null;
    };

    /// <summary>Hands the lane to whoever waited meanwhile, or closes it if nobody did.</summary>
    private void Drain(KeyLane lane, string key)
    {
        if (TakeWaiting(lane, key) is { } batch)
        {
            // Tracked so that tests can wait for the give-backs a lane starts after its callers have gone.
            Track(RunLaneAsync(lane, key, batch));
        }
    }

    /// <summary>Takes the lane's waiters, or, when none wait, marks it idle and removes it.</summary>
    private List<Waiter>? TakeWaiting(KeyLane lane, string key)
    {
        lock (lane)
        {
            List<Waiter>? batch = lane.Waiting;
            lane.Waiting = null;
            if (batch is null)
            {
                lane.Busy = false;
                lane.Closed = true;
                _lanes.TryRemove(new KeyValuePair<string, KeyLane>(key, lane));
            }

            return batch;
        }
    }

    /// <summary>
    /// Sends the lane's waiters batch after batch until none wait. One loop owns the lane: nothing recurses, and a
    /// batch that completes without waiting (a store failing fast under a flood) is followed by a yield, so the loop
    /// never keeps the thread of the caller that started it. The next batch is sent before the last one is answered,
    /// so Redis is never idle while callers are woken.
    /// </summary>
    private async Task RunLaneAsync(KeyLane lane, string key, List<Waiter> first)
    {
        LaneBatch? current = StartBatch(lane, key, first);
        while (current is not null)
        {
            Exception? failure = null;
            bool completedAtOnce = current.Sending.IsCompleted;
            try
            {
                await current.Sending.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            LaneBatch? next = StartBatch(lane, key, TakeWaiting(lane, key));
            current.Answer(failure, this);
            current = next;
            if (completedAtOnce)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>Sends the first of these waiter lists that still has someone to answer; null once the lane is closed.</summary>
    private LaneBatch? StartBatch(KeyLane lane, string key, List<Waiter>? waiters)
    {
        while (waiters is not null)
        {
            // A waiter whose caller gave up (cancelled) is dropped, and so is one that waited longer than a caller
            // behind the resilience wrapper waits: that caller already has its failure-mode answer, and sending its
            // acquire now would charge it for a permit it was never told about.
            long now = _timeProvider.GetTimestamp();
            waiters.RemoveAll(waiter => !waiter.IsPending || (_timeProvider.GetElapsedTime(waiter.QueuedAt, now) > _maxQueueWait && waiter.TimeOut()));
            if (waiters.Count > 0)
            {
                LaneBatch batch = new(waiters);
                batch.Sending = SendBatchAsync(key, waiters, batch.Decisions, batch.Entries);
                return batch;
            }

            waiters = TakeWaiting(lane, key);
        }

        return null;
    }

    private async Task SendBatchAsync(string key, List<Waiter> batch, RateLimitDecision[] decisions, RateLimitEntry[] entries)
    {
        if (batch.Count == 1)
        {
            Waiter only = batch[0];
            decisions[0] = await SendOneAsync(null, key, only.Request, entries, only.Now, only.QueuedAt, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await SendSeveralAsync(key, batch, decisions, entries).ConfigureAwait(false);
        }
    }

    private async Task SendSeveralAsync(string key, List<Waiter> batch, RateLimitDecision[] decisions, RateLimitEntry[] entries)
    {
        IDatabase database = await _connection.GetDatabaseAsync(CancellationToken.None).ConfigureAwait(false);
        RateLimitRule rule = batch[0].Request.Rule;
        long window = rule.WindowMilliseconds;
        int shift = PackingShift(window);

        // On the client clock every waiter named the same window (the key carries it); if the window and its grace
        // have already passed by now, the counter lives a millisecond and counts for nobody, as it should.
        long ttl = _useServerTime
            ? 0
            : Math.Clamp(
                rule.GetWindowEnd(batch[0].Now) - _timeProvider.GetUtcNow().ToUnixTimeMilliseconds() + ExpiryGraceMilliseconds,
                1,
                window + ExpiryGraceMilliseconds);
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

        // The retry budget counts from the first waiter's arrival: its caller's timeout started then.
        long startedAt = batch[0].QueuedAt;
        for (int i = 1; i < batch.Count; i++)
        {
            startedAt = Math.Min(startedAt, batch[i].QueuedAt);
        }

        RedisResult raw = await EvaluateAsync(database, s_acquireBatchScript, [key], arguments, CancellationToken.None, startedAt).ConfigureAwait(false);
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

            decisions[i] = Decide(request, entries.AsMemory(i, 1), withCost, left, batch[i].Now);
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

        return new RateLimitDecision(
            allowed ? RateLimitStatus.Allowed : RateLimitStatus.LimitExceeded, allowed ? -1 : 0, retryAfter, DateTimeOffset.FromUnixTimeMilliseconds(decidedAt),
            allowed ? NextAcquisitionId() : 0);
    }

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

    /// <summary>Waiters sent together, and what the script answered them.</summary>
    private sealed class LaneBatch(List<Waiter> waiters)
    {
        public RateLimitDecision[] Decisions { get; } = new RateLimitDecision[waiters.Count];

        public RateLimitEntry[] Entries { get; } = new RateLimitEntry[waiters.Count];

        public Task Sending { get; set; } = Task.CompletedTask;

        /// <summary>
        /// Answers every waiter; one whose caller cancelled after the batch was sent, and whom the script admitted, is
        /// given back by <paramref name="store"/>, so that a cancelled caller is never charged.
        /// </summary>
        public void Answer(Exception? failure, RedisRateLimitStore store)
        {
            for (int i = 0; i < waiters.Count; i++)
            {
                if (failure is null)
                {
                    if (!waiters[i].Complete(Decisions[i], Entries[i]) && Decisions[i].Status == RateLimitStatus.Allowed)
                    {
                        store.GiveBackAdmitted(waiters[i].Request, Decisions[i].Timestamp);
                    }
                }
                else
                {
                    waiters[i].Fail(failure);
                }
            }
        }
    }

    /// <summary>The acquires of one key: whether a script is in flight, and who waits for the next one.</summary>
    private sealed class KeyLane
    {
        public bool Busy;
        public bool Closed;
        public List<Waiter>? Waiting;
    }

    /// <summary>
    /// An acquire waiting in a lane. It is answered exactly once, by whoever claims it first: the lane (with a
    /// decision, written into the caller's results first), the caller's cancellation, or the lane's queue timeout.
    /// Its continuation runs on the thread pool, never inline where the batch is answered, so one slow caller cannot
    /// hold up the others or the lane.
    /// </summary>
    private sealed class Waiter(RateLimitRequest request, Memory<RateLimitEntry> results, long now, long queuedAt)
        : TaskCompletionSource<RateLimitDecision>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private int _claimed;
        private CancellationTokenRegistration _cancellation;

        public RateLimitRequest Request { get; } = request;

        public long Now { get; } = now;

        public long QueuedAt { get; } = queuedAt;

        public bool IsPending => Volatile.Read(ref _claimed) == 0;

        public void CancelWith(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(
                    static (state, token) =>
                    {
                        Waiter waiter = (Waiter)state!;
                        if (waiter.Claim())
                        {
                            waiter.TrySetCanceled(token);
                        }
                    },
                    this);
            }
        }

        /// <summary>Answers the waiter with its decision; false when it was already answered (its caller cancelled).</summary>
        public bool Complete(RateLimitDecision decision, RateLimitEntry entry)
        {
            if (!Claim())
            {
                return false;
            }

            if (!results.IsEmpty)
            {
                results.Span[0] = entry;
            }

            TrySetResult(decision);
            return true;
        }

        public void Fail(Exception exception)
        {
            if (Claim())
            {
                TrySetException(exception);
            }
        }

        /// <summary>Fails the waiter for having waited too long; always true, so it can sit in a removal predicate.</summary>
        public bool TimeOut()
        {
            Fail(new TimeoutException("The acquire waited in its key's queue longer than the store's timeout; it was not sent."));
            return true;
        }

        private bool Claim()
        {
            if (Interlocked.Exchange(ref _claimed, 1) != 0)
            {
                return false;
            }

            _cancellation.Dispose();
            return true;
        }
    }
}
