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
/// failed: sent, so it may or may not have run. Members a server refused as a read-only replica (<c>READONLY</c>, a
/// failover the client has not seen) wrote nothing, and neither did the batch's end on their behalf (it writes only
/// what earlier members' writes took): they go again, in their order, once the connection has looked for the primary,
/// within the retry budget of the earliest of them, before the lane takes its next batch.
/// </para>
/// <para>
/// Cancellation behaves as without batching. A member whose caller cancels before its batch is sent is dropped and
/// takes nothing; one already in a sent batch is decided, and the caller, who has its cancellation, gives back what
/// it was admitted. A member refused as a read-only replica whose caller has cancelled by the time it would go again
/// is dropped as one not yet sent: it wrote nothing. A member that waited longer than the store's timeout is failed unsent, as the coalescer does.
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
    private readonly MemberPool _members = new();
    private readonly RedisScriptRunner _scripts;
    private readonly RedisScript _batchScript;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _maxQueueWait;
    private readonly ILogger _logger;
    private readonly Action<Task> _track;
    private readonly bool _always;
    private readonly bool _keysAsArguments;
    private long _batchesSent;
    private long _membersBatched;
    private long _membersRepeated;

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
    /// <param name="keysAsArguments">
    /// Sends a batch's keys as arguments, in the layout of <see cref="RedisNodeScriptLayout"/>: for the node script,
    /// whose members' keys span the hash slots of one cluster node.
    /// </param>
    public RedisScriptBatcher(
        RedisScriptRunner scripts, RedisScript batchScript, TimeProvider timeProvider, TimeSpan maxQueueWait, ILogger logger, Action<Task> track, bool always,
        bool keysAsArguments = false)
    {
        _scripts = scripts;
        _batchScript = batchScript;
        _timeProvider = timeProvider;
        _maxQueueWait = maxQueueWait;
        _logger = logger;
        _track = track;
        _always = always;
        _keysAsArguments = keysAsArguments;
    }

    /// <summary>Batch scripts sent so far; for tests.</summary>
    public long BatchesSent => Interlocked.Read(ref _batchesSent);

    /// <summary>Acquires sent inside batch scripts so far; for tests.</summary>
    public long MembersBatched => Interlocked.Read(ref _membersBatched);

    /// <summary>Acquires sent inside batch scripts as a repeat of an earlier member's arguments so far; for tests.</summary>
    public long MembersRepeated => Interlocked.Read(ref _membersRepeated);

    /// <summary>The lanes with a script in flight; for tests.</summary>
    public int LaneCount => _lanes.Count;

    /// <summary>
    /// Sends an acquire script: at once when its lane is idle, else with the next batch of its lane. The contract is
    /// <see cref="RedisScriptRunner.SendAsync"/>'s: nothing is sent for a caller that has already cancelled, the
    /// task is cancelled only when nothing was sent, and a completed task means the script ran.
    /// </summary>
    /// <remarks>
    /// A queued acquire is a pooled <see cref="Member"/>: the returned task must be awaited (or turned into a
    /// <see cref="Task"/>) exactly once, as any <see cref="ValueTask{TResult}"/>.
    /// </remarks>
    /// <param name="database">The database.</param>
    /// <param name="lane">The lane: 0 on a single node, the keys' hash slot on a cluster.</param>
    /// <param name="script">The acquire script.</param>
    /// <param name="kind">The script's kind in the batch script's layout, which also gives its numbers of keys and arguments.</param>
    /// <param name="repeatKind">
    /// The kind that says "the same arguments as the member just before, of kind <paramref name="kind"/>", for a
    /// single-key call, or "as the last multi-key member, of kind <paramref name="kind"/>", for a multi-key call;
    /// <see cref="RedisValue.Null"/> when the kind has none.
    /// </param>
    /// <param name="call">Its keys and arguments.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the retry budget counts from there.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <returns>The script's own reply.</returns>
    public ValueTask<RedisResult> SendAsync(
        IDatabase database, int lane, RedisScript script, RedisValue kind, RedisValue repeatKind, in RedisScriptCall call, long startedAt, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<RedisResult>(cancellationToken);
        }

        int values = 1 + call.KeyCount + call.ArgumentCount;
        if (values + 1 > MaxValues)
        {
            return SendAlone(database, script, kind, call, startedAt, cancellationToken);
        }

        while (true)
        {
            Lane current = _lanes.GetOrAdd(lane, static _ => new Lane());
            bool start = false;
            bool leads = false;
            ValueTask<RedisResult> queued = default;
            lock (current)
            {
                if (current.Closed)
                {
                    continue;
                }

                if (!current.Busy && !_always)
                {
                    current.Busy = true;
                    leads = true;
                }
                else if (current.Waiting.Count < MaxQueued)
                {
                    Member member = _members.Rent();
                    member.Start(database, script, kind, repeatKind, call, values, startedAt, _timeProvider.GetTimestamp());
                    queued = member.Reply;
                    current.Waiting.Enqueue(member);
                    member.CancelWith(cancellationToken);
                    start = !current.Busy;
                    current.Busy = true;
                }
                else
                {
                    return SendAlone(database, script, kind, call, startedAt, cancellationToken);
                }
            }

            if (leads)
            {
                return new(LeadAsync(current, lane, database, script, call.Keys, call.Arguments, startedAt, cancellationToken));
            }

            if (start)
            {
                _track(RunLaneAsync(current, lane));
            }

            return queued;
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
    /// Sends the lane's members batch after batch until none wait. One loop owns the lane. Every batch answered is
    /// followed by a yield before the next batch is taken: the continuations of the callers just answered were queued
    /// before the loop's own, so callers that acquire again at once (an app's busy request loop) come back into the
    /// lane first and go out in the next batch with those who queued meanwhile. Taken at once instead, the next batch
    /// held only the callers who queued while the last one was in flight, and the callers split into two halves that
    /// took turns: twice the batches, each half as full, and every batch's fixed cost (the script call, its round
    /// trip, the server's TIME) paid twice as often on both sides. The yield also keeps a store failing fast from
    /// holding the thread that started the loop.
    /// </summary>
    private async Task RunLaneAsync(Lane lane, int key)
    {
        List<Member> batch = [];
        List<Member> refused = [];
        while (TakeBatch(lane, key, batch))
        {
            (string? refusal, int searches) = await SendAndAnswerAsync(batch, refused).ConfigureAwait(false);

            // Members refused as a read-only replica (a failover the client has not seen) wrote nothing: once the
            // connection has looked for the primary they go again, in their order, ahead of the members queued since.
            for (int resends = 0; refusal is not null; resends++)
            {
                (batch, refused) = (refused, batch);
                refused.Clear();
                long startedAt = batch[0].StartedAt;
                foreach (Member member in batch)
                {
                    startedAt = Math.Min(startedAt, member.StartedAt);
                }

                if (!await _scripts.PrimaryFoundAsync(refusal, searches, resends, startedAt, _batchScript.Name, CancellationToken.None).ConfigureAwait(false))
                {
                    foreach (Member member in batch)
                    {
                        member.Fail(MemberFailure(refusal));
                    }

                    break;
                }

                // A caller that cancelled meanwhile has its cancellation; its member wrote nothing, so it goes no more.
                batch.RemoveAll(static member =>
                {
                    CancellationToken token = member.CallerToken;
                    if (!token.IsCancellationRequested)
                    {
                        return false;
                    }

                    member.Fail(new OperationCanceledException(token));
                    return true;
                });
                if (batch.Count == 0)
                {
                    break;
                }

                (refusal, searches) = await SendAndAnswerAsync(batch, refused).ConfigureAwait(false);
            }

            // Each member went back to the pool when both its caller and the lane were done with it.
            batch.Clear();
            refused.Clear();
            await Task.Yield();
        }
    }

    /// <summary>
    /// Sends one batch and answers its members, but for those refused as a read-only replica, which go to
    /// <paramref name="refused"/> unanswered, in order; returns that refusal (null when there were none), and how
    /// many times the connection had looked for the primary when the batch was sent.
    /// </summary>
    private async Task<(string? Refusal, int Searches)> SendAndAnswerAsync(List<Member> batch, List<Member> refused)
    {
        int searches = _scripts.PrimarySearches;
        Exception? failure;
        string? refusal = null;
        try
        {
            RedisResult raw = await Send(batch).ConfigureAwait(false);
            (failure, refusal) = Answer(batch, raw, refused);
        }
#pragma warning disable CA1031 // Every member fails with the batch's failure, as its own call would have failed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }

        if (failure is not null)
        {
            if (batch.Count > 1)
            {
#pragma warning disable CA1873 // LogValue.Of reads the exception's messages and allocates nothing for a clean one
                Log.BatchFailed(_logger, batch.Count, LogValue.Of(failure));
#pragma warning restore CA1873
            }

            foreach (Member member in batch)
            {
                member.Fail(failure);
            }
        }

        return (refusal, searches);
    }

    /// <summary>
    /// Takes the next batch from the front of the lane into <paramref name="batch"/>, in arrival order and within the
    /// bounds; drops members whose callers cancelled and fails those that waited too long. False, and the lane closed,
    /// when nobody waits.
    /// </summary>
    private bool TakeBatch(Lane lane, int key, List<Member> batch)
    {
        lock (lane)
        {
            long now = _timeProvider.GetTimestamp();
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
                return false;
            }

            return true;
        }
    }

    /// <summary>The acquires of one node or slot: whether a script is in flight, and who waits for the next batch.</summary>
    private sealed class Lane
    {
        public bool Busy;
        public bool Closed;
        public Queue<Member> Waiting { get; } = new();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1810, EventName = "RedisAcquireBatchFailed", Level = LogLevel.Debug,
            Message = "A batch script of {Members} acquires failed as a whole; each of them fails as its own call would have.")]
        public static partial void BatchFailed(ILogger logger, int members, Exception exception);
    }
}
