// Over 300 lines on purpose: the lane, its waiters and its batches share one locking protocol that is only
// checkable when read together.

using System.Collections.Concurrent;

namespace EmailGuard.Redis;

/// <summary>
/// Coalesces concurrent single-key fixed-window acquires: the call every guarded request makes, and the one a flood
/// repeats on one key.
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
internal sealed class RedisSingleKeyCoalescer
{
    internal const int MaxCoalesced = 256;

    private readonly ConcurrentDictionary<string, KeyLane> _lanes = new(StringComparer.Ordinal);
    private readonly ISender _sender;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _maxQueueWait;

    /// <param name="sender">Sends one acquire, or a batch of them, as one script.</param>
    /// <param name="timeProvider">The clock waiters are timed with.</param>
    /// <param name="maxQueueWait">How long an acquire may wait in its lane before it is failed unsent.</param>
    public RedisSingleKeyCoalescer(ISender sender, TimeProvider timeProvider, TimeSpan maxQueueWait)
    {
        _sender = sender;
        _timeProvider = timeProvider;
        _maxQueueWait = maxQueueWait;
    }

    /// <summary>What the coalescer needs from the store: the scripts it sends, and the give-backs it starts.</summary>
    internal interface ISender
    {
        /// <summary>
        /// One acquire in one script. When <paramref name="leading"/> is set, the call leads that lane, and hands it on
        /// with <see cref="Release"/> once it is decided (or has failed), before it completes: the leader's own call
        /// does it, so that a lone acquire runs as one async method, not two.
        /// </summary>
        ValueTask<RateLimitDecision> SendOneAsync(
            string key, RateLimitRequest request, Memory<RateLimitEntry> results, long now, long startedAt, KeyLane? leading, CancellationToken cancellationToken);

        /// <summary>Several acquires of one key in one script, each admitted if it still fits, in order.</summary>
        Task SendSeveralAsync(string key, List<Waiter> batch, RateLimitDecision[] decisions, RateLimitEntry[] entries);

        /// <summary>
        /// Answers an acquire without a script when its counter is known to be over its limit (the answer to the batch
        /// before it may just have said so), exactly as the script would at the caller's time <paramref name="now"/>.
        /// </summary>
        bool TryDenyLocally(RateLimitRequest request, long now, out RateLimitDecision decision, out RateLimitEntry entry);

        /// <summary>Gives back an acquire admitted for a caller who had cancelled by the time its answer came.</summary>
        void GiveBackAdmitted(RateLimitRequest request, DateTimeOffset acquiredAt);

        /// <summary>Tracks background work, so that tests can wait until the counters settle.</summary>
        void Track(Task work);
    }

    /// <summary>The keys with an acquire in flight; for tests.</summary>
    public int LaneCount => _lanes.Count;

    /// <summary>Acquires on one counter: leads its lane, waits in it, or, when the lane is full, goes alone.</summary>
    /// <param name="key">The counter's Redis key.</param>
    /// <param name="request">The request.</param>
    /// <param name="results">Where its entry goes.</param>
    /// <param name="now">The caller's clock when it called, in Unix ms.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The decision.</returns>
    public ValueTask<RateLimitDecision> AcquireAsync(string key, RateLimitRequest request, Memory<RateLimitEntry> results, long now, CancellationToken cancellationToken)
    {
        while (true)
        {
            KeyLane lane = _lanes.GetOrAdd(key, static key => new KeyLane(key));
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

            // A new leader asks the over-limit cache again: the admission before it may have filled the counter after
            // this caller looked and before that lane closed, and then a flood would pay a second script in the window.
            if (lead && _sender.TryDenyLocally(request, now, out RateLimitDecision denied, out RateLimitEntry entry))
            {
                if (!results.IsEmpty)
                {
                    results.Span[0] = entry;
                }

                Release(lane);
                return new(denied);
            }

            return _sender.SendOneAsync(key, request, results, now, _timeProvider.GetTimestamp(), lead ? lane : null, cancellationToken);
        }
    }

    /// <summary>
    /// Called by the leader of <paramref name="lane"/> once its own acquire is decided or has failed: hands the lane
    /// to whoever waited meanwhile, or closes it if nobody did.
    /// </summary>
    /// <param name="lane">The lane the call led.</param>
    public void Release(KeyLane lane)
    {
        if (TakeWaiting(lane, lane.Key) is { } batch)
        {
            // Tracked so that tests can wait for the give-backs a lane starts after its callers have gone.
            _sender.Track(RunLaneAsync(lane, lane.Key, batch));
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
            current.Answer(failure, _sender);
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
            // acquire now would charge it for a permit it was never told about. One whose counter the last batch left
            // over its limit is denied at once, without a script: under a flood, that is everyone who queued meanwhile.
            long now = _timeProvider.GetTimestamp();
            waiters.RemoveAll(waiter => !waiter.IsPending
                || (_timeProvider.GetElapsedTime(waiter.QueuedAt, now) > _maxQueueWait && waiter.TimeOut())
                || (_sender.TryDenyLocally(waiter.Request, waiter.Now, out RateLimitDecision denied, out RateLimitEntry entry) && waiter.Deny(denied, entry)));
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
            decisions[0] = await _sender.SendOneAsync(key, only.Request, entries, only.Now, only.QueuedAt, null, CancellationToken.None).ConfigureAwait(false);
        }
        else
        {
            await _sender.SendSeveralAsync(key, batch, decisions, entries).ConfigureAwait(false);
        }
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
        public void Answer(Exception? failure, ISender store)
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
    internal sealed class KeyLane(string key)
    {
        public string Key { get; } = key;

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
    internal sealed class Waiter(RateLimitRequest request, Memory<RateLimitEntry> results, long now, long queuedAt)
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

        /// <summary>Answers the waiter with a denial; always true, so it can sit in a removal predicate.</summary>
        public bool Deny(RateLimitDecision decision, RateLimitEntry entry)
        {
            Complete(decision, entry);
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

