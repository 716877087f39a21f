// Over 300 lines on purpose: the lane, its members and its batches share one locking protocol that is only
// checkable when read together (as in RedisSingleKeyCoalescer).

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Batches the acquire scripts of different keys: while one is in flight to a node (to a hash slot on a cluster),
/// acquires for that node wait in its lane, and when it returns they go out together as one script call
/// (<see cref="RedisRateLimitStore.AcquireManyScriptText"/>) that runs each one, in arrival order, with the very
/// function its own script runs.
/// </summary>
/// <remarks>
/// <para>
/// Each member is therefore decided exactly as if it had been sent alone at its place in the order: all or nothing per
/// member, the same arithmetic, the same reply. A member whose own script would have failed (a counter of the wrong
/// type) fails alone with that error, and writes nothing, since every acquire script fails before its first write;
/// a batch that fails as a whole (a timeout, a dropped connection) fails each member as its own call would have
/// failed: sent, so it may or may not have run.
/// </para>
/// <para>
/// Cancellation behaves as without batching. A member whose caller cancels before its batch is sent is dropped and
/// takes nothing; one already in a sent batch is decided, and the caller, who has its cancellation, gives back what
/// it was admitted. A member that waited longer than the store's timeout is failed unsent, as the coalescer does.
/// </para>
/// <para>
/// A batch holds at most <see cref="MaxMembers"/> members and <see cref="MaxValues"/> keys and arguments, so one
/// script never holds the server for long; a lane queues at most <see cref="MaxQueued"/> members, beyond which an
/// acquire goes out on its own. Every send, single or batched, goes through the one <see cref="RedisScriptRunner"/>,
/// with its NOSCRIPT and moving-slot recovery.
/// </para>
/// </remarks>
internal sealed partial class RedisScriptBatcher
{
    /// <summary>The most acquires one batch script runs.</summary>
    internal const int MaxMembers = 256;

    /// <summary>The most keys and arguments one batch script carries (a guard check of many recipients is sent alone).</summary>
    internal const int MaxValues = 8192;

    /// <summary>The most acquires one lane queues; beyond that an acquire is sent alone.</summary>
    internal const int MaxQueued = 4096;

    private readonly ConcurrentDictionary<int, Lane> _lanes = new();
    private readonly RedisScriptRunner _scripts;
    private readonly RedisScript _batchScript;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _maxQueueWait;
    private readonly ILogger _logger;
    private readonly Action<Task> _track;
    private readonly bool _always;
    private long _batchesSent;
    private long _membersBatched;

    /// <param name="scripts">The one script runner every send goes through.</param>
    /// <param name="batchScript">The script that runs several members in one call.</param>
    /// <param name="timeProvider">The clock members are timed with.</param>
    /// <param name="maxQueueWait">How long a member may wait in its lane before it is failed unsent.</param>
    /// <param name="logger">The store's logger.</param>
    /// <param name="track">Tracks a lane's loop, so that tests can wait for it.</param>
    /// <param name="always">
    /// Sends every acquire through a lane and the batch script, even alone; for the tests that hold the batch script
    /// to the same decisions as the single scripts.
    /// </param>
    public RedisScriptBatcher(
        RedisScriptRunner scripts, RedisScript batchScript, TimeProvider timeProvider, TimeSpan maxQueueWait, ILogger logger, Action<Task> track, bool always)
    {
        _scripts = scripts;
        _batchScript = batchScript;
        _timeProvider = timeProvider;
        _maxQueueWait = maxQueueWait;
        _logger = logger;
        _track = track;
        _always = always;
    }

    /// <summary>Batch scripts sent so far; for tests.</summary>
    public long BatchesSent => Interlocked.Read(ref _batchesSent);

    /// <summary>Acquires sent inside batch scripts so far; for tests.</summary>
    public long MembersBatched => Interlocked.Read(ref _membersBatched);

    /// <summary>The lanes with a script in flight; for tests.</summary>
    public int LaneCount => _lanes.Count;

    /// <summary>
    /// Sends an acquire script: at once when its lane is idle, else with the next batch of its lane. The contract is
    /// <see cref="RedisScriptRunner.SendAsync"/>'s: nothing is sent for a caller that has already cancelled, the
    /// task is cancelled only when nothing was sent, and a completed task means the script ran.
    /// </summary>
    /// <param name="database">The database.</param>
    /// <param name="lane">The lane: 0 on a single node, the keys' hash slot on a cluster.</param>
    /// <param name="script">The acquire script.</param>
    /// <param name="kind">The script's kind in the batch script's layout.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the retry budget counts from there.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The script's own reply.</returns>
    public Task<RedisResult> SendAsync(
        IDatabase database, int lane, RedisScript script, RedisValue kind, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<RedisResult>(cancellationToken);
        }

        int values = 3 + keys.Length + arguments.Length;
        if (values + 1 > MaxValues)
        {
            return _scripts.SendAsync(database, script, keys, arguments, startedAt, cancellationToken);
        }

        while (true)
        {
            Lane current = _lanes.GetOrAdd(lane, static _ => new Lane());
            bool start = false;
            Member? member = null;
            lock (current)
            {
                if (current.Closed)
                {
                    continue;
                }

                if (!current.Busy && !_always)
                {
                    current.Busy = true;
                }
                else if (current.Waiting.Count < MaxQueued)
                {
                    member = new Member(database, script, kind, keys, arguments, values, startedAt, _timeProvider.GetTimestamp());
                    current.Waiting.Enqueue(member);
                    member.CancelWith(cancellationToken);
                    start = !current.Busy;
                    current.Busy = true;
                }
                else
                {
                    return _scripts.SendAsync(database, script, keys, arguments, startedAt, cancellationToken);
                }
            }

            if (member is null)
            {
                return LeadAsync(current, lane, database, script, keys, arguments, startedAt, cancellationToken);
            }

            if (start)
            {
                _track(RunLaneAsync(current, lane));
            }

            return member.Task;
        }
    }

    /// <summary>Sends an acquire alone as its idle lane's leader, then hands the lane on to whoever queued meanwhile.</summary>
    private async Task<RedisResult> LeadAsync(
        Lane lane, int key, IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
    {
        try
        {
            return await _scripts.SendAsync(database, script, keys, arguments, startedAt, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (TryClose(lane, key) is false)
            {
                _track(RunLaneAsync(lane, key));
            }
        }
    }

    /// <summary>Closes and removes the lane when nobody waits in it; false when someone does.</summary>
    private bool TryClose(Lane lane, int key)
    {
        lock (lane)
        {
            if (lane.Waiting.Count > 0)
            {
                return false;
            }

            lane.Busy = false;
            lane.Closed = true;
            _lanes.TryRemove(new KeyValuePair<int, Lane>(key, lane));
            return true;
        }
    }

    /// <summary>
    /// Sends the lane's members batch after batch until none wait. One loop owns the lane; a batch that completes
    /// without waiting (a store failing fast) is followed by a yield, so the loop never keeps the thread that started it.
    /// </summary>
    private async Task RunLaneAsync(Lane lane, int key)
    {
        while (TakeBatch(lane, key) is { } batch)
        {
            bool completedAtOnce = true;
            try
            {
                Task<RedisResult> sending = Send(batch);
                completedAtOnce = sending.IsCompleted;
                RedisResult raw = await sending.ConfigureAwait(false);
                Answer(batch, raw);
            }
#pragma warning disable CA1031 // Every member fails with the batch's failure, as its own call would have failed.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (batch.Count > 1)
                {
                    Log.BatchFailed(_logger, batch.Count, ex);
                }

                foreach (Member member in batch)
                {
                    member.TrySetException(ex);
                }
            }

            if (completedAtOnce)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>
    /// Takes the next batch from the front of the lane, in arrival order and within the bounds; drops members whose
    /// callers cancelled and fails those that waited too long. Null, and the lane closed, when nobody waits.
    /// </summary>
    private List<Member>? TakeBatch(Lane lane, int key)
    {
        lock (lane)
        {
            long now = _timeProvider.GetTimestamp();
            List<Member> batch = [];
            int values = 1;
            while (lane.Waiting.TryPeek(out Member? member))
            {
                if (member.IsQueued && batch.Count > 0 && (batch.Count == MaxMembers || values + member.Values > MaxValues))
                {
                    break;
                }

                lane.Waiting.Dequeue();
                if (_timeProvider.GetElapsedTime(member.QueuedAt, now) > _maxQueueWait)
                {
                    // Its caller behind the resilience wrapper already has its failure-mode answer: sending it now
                    // would charge a permit nobody was told about.
                    member.TimeOut();
                }
                else if (member.TrySend())
                {
                    batch.Add(member);
                    values += member.Values;
                }
            }

            if (batch.Count == 0)
            {
                lane.Busy = false;
                lane.Closed = true;
                _lanes.TryRemove(new KeyValuePair<int, Lane>(key, lane));
                return null;
            }

            return batch;
        }
    }

    /// <summary>Sends one member as its own script, or several as the batch script.</summary>
    private Task<RedisResult> Send(List<Member> batch)
    {
        Member first = batch[0];
        if (batch.Count == 1 && !_always)
        {
            return _scripts.SendAsync(first.Database, first.Script, first.Keys, first.Arguments, first.StartedAt, CancellationToken.None);
        }

        int keyCount = 0;
        int argumentCount = 1 + (3 * batch.Count);
        long startedAt = first.StartedAt;
        foreach (Member member in batch)
        {
            keyCount += member.Keys.Length;
            argumentCount += member.Arguments.Length;
            startedAt = Math.Min(startedAt, member.StartedAt);
        }

        RedisKey[] keys = new RedisKey[keyCount];
        RedisValue[] arguments = new RedisValue[argumentCount];
        arguments[0] = batch.Count;
        int k = 0;
        int a = 1 + (3 * batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            Member member = batch[i];
            arguments[1 + (3 * i)] = member.Kind;
            arguments[2 + (3 * i)] = member.Keys.Length;
            arguments[3 + (3 * i)] = member.Arguments.Length;
            member.Keys.CopyTo(keys, k);
            member.Arguments.CopyTo(arguments, a);
            k += member.Keys.Length;
            a += member.Arguments.Length;
        }

        Interlocked.Increment(ref _batchesSent);
        Interlocked.Add(ref _membersBatched, batch.Count);

        // The retry budget counts from the earliest member's start: its caller's timeout started then.
        return _scripts.SendAsync(first.Database, _batchScript, keys, arguments, startedAt, CancellationToken.None);
    }

    /// <summary>Answers each member with its own reply, or with its own script's error.</summary>
    private void Answer(List<Member> batch, RedisResult raw)
    {
        if (batch.Count == 1 && !_always)
        {
            batch[0].TrySetResult(raw);
            return;
        }

        RedisResult[] replies = (RedisResult[])raw!;
        for (int i = 0; i < batch.Count; i++)
        {
            RedisResult reply = replies[i];
            if (reply.Resp2Type == ResultType.BulkString)
            {
                string message = (string)reply!;
                RedisErrorKind errorKind = message.StartsWith("WRONGTYPE", StringComparison.Ordinal) ? RedisErrorKind.WrongType : RedisErrorKind.UnknownError;
                batch[i].TrySetException(new RedisServerException(errorKind, CommandFlags.None, message));
            }
            else
            {
                batch[i].TrySetResult(reply);
            }
        }
    }

    /// <summary>The acquires of one node or slot: whether a script is in flight, and who waits for the next batch.</summary>
    private sealed class Lane
    {
        public bool Busy;
        public bool Closed;
        public Queue<Member> Waiting { get; } = new();
    }

    /// <summary>
    /// An acquire waiting in a lane. Claimed once: by its batch (sent, then answered with its reply or the batch's
    /// failure), by its caller's cancellation (dropped, cancelled), or by the queue timeout (failed unsent). Its
    /// continuation runs on the thread pool, never inline where the batch is answered.
    /// </summary>
    private sealed class Member(
        IDatabase database, RedisScript script, RedisValue kind, RedisKey[] keys, RedisValue[] arguments, int values, long startedAt, long queuedAt)
        : TaskCompletionSource<RedisResult>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private const int Queued = 0;
        private const int Sent = 1;
        private const int Dropped = 2;

        private int _state;
        private CancellationTokenRegistration _cancellation;

        public IDatabase Database { get; } = database;

        public RedisScript Script { get; } = script;

        public RedisValue Kind { get; } = kind;

        public RedisKey[] Keys { get; } = keys;

        public RedisValue[] Arguments { get; } = arguments;

        public int Values { get; } = values;

        public long StartedAt { get; } = startedAt;

        public long QueuedAt { get; } = queuedAt;

        public bool IsQueued => Volatile.Read(ref _state) == Queued;

        public void CancelWith(CancellationToken cancellationToken)
        {
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(
                    static (state, token) =>
                    {
                        Member member = (Member)state!;
                        if (Interlocked.CompareExchange(ref member._state, Dropped, Queued) == Queued)
                        {
                            member.TrySetCanceled(token);
                        }
                    },
                    this);
            }
        }

        /// <summary>Claims the member for a batch about to be sent; false when its caller cancelled first.</summary>
        public bool TrySend()
        {
            if (Interlocked.CompareExchange(ref _state, Sent, Queued) != Queued)
            {
                return false;
            }

            _cancellation.Dispose();
            return true;
        }

        public void TimeOut()
        {
            if (Interlocked.CompareExchange(ref _state, Dropped, Queued) == Queued)
            {
                _cancellation.Dispose();
                TrySetException(new TimeoutException("The acquire waited for its Redis node's next batch longer than the store's timeout; it was not sent."));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1810, EventName = "RedisAcquireBatchFailed", Level = LogLevel.Debug,
            Message = "A batch script of {Members} acquires failed as a whole; each of them fails as its own call would have.")]
        public static partial void BatchFailed(ILogger logger, int members, Exception exception);
    }
}
