// Over 300 lines on purpose: the lane, its members and its batches share one locking protocol that is only
// checkable when read together (as in RedisSingleKeyCoalescer). How a batch is written, sent, recovered and answered
// is in RedisScriptBatcher.Script.cs.

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Batches the acquire scripts of different keys: while one is in flight to a node (to a hash slot on a cluster),
/// acquires for that node wait in its lane, and they go out together as one script call (a second one while the first
/// is in flight, see <see cref="RunLaneAsync"/>)
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
/// within the retry budget of the earliest of them, before the lane takes its next batch. A batch already sent behind
/// theirs went to the same server and is mostly refused too, and goes again after them; one that the client sent to the
/// new primary before their refusal came back is decided before them, as two callers' own scripts would be across that
/// failover: each member is still decided once, all or nothing.
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
/// with its NOSCRIPT and moving-slot recovery; a lane's batches are sent once and, when refused before they ran, sent
/// again by the lane as it answers them, one after another in the order they were first sent (a batch sent behind a
/// refused one was refused too, and must not go again before it).
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

    /// <summary>The most batches of one lane in flight at once (see <see cref="RunLaneAsync"/>).</summary>
    internal const int MaxBatchesInFlight = 2;

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

    /// <summary>The acquires waiting in the lanes for a batch; for tests.</summary>
    public int QueuedCount
    {
        get
        {
            int queued = 0;
            foreach (Lane lane in _lanes.Values)
            {
                lock (lane)
                {
                    queued += lane.Waiting.Count;
                }
            }

            return queued;
        }
    }

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
    /// Sends the lane's members batch after batch until none wait, with up to <see cref="MaxBatchesInFlight"/> batches
    /// in flight. One loop owns the lane.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Every batch answered is followed by a yield before the next batch is taken: the continuations of the callers
    /// just answered were queued before the loop's own, so callers that acquire again at once (an app's busy request
    /// loop) come back into the lane first and go out with those who queued meanwhile, instead of a batch of the few
    /// who queued while the last one was in flight.
    /// </para>
    /// <para>
    /// A second batch goes out, one yield after the first, while the first is in flight: with one batch at a time the
    /// client and the server took turns, each idle while the other worked (a batch's callers answered and back in the
    /// lane, then the server running their batch), and on a busy node half the time of both went unused. Both batches
    /// go over the one connection of the node, which runs them in the order they were sent, so each member is still
    /// decided at its place in the arrival order. A batch is answered only after the one sent before it. A batch refused
    /// before it ran (NOSCRIPT, a moving slot, a read-only replica) is sent again as it is answered, and the lane sends
    /// nothing new until the batch in flight behind it, refused too, has been answered and sent again after it.
    /// </para>
    /// <para>
    /// The yields also keep a store failing fast from holding the thread that started the loop.
    /// </para>
    /// </remarks>
    private async Task RunLaneAsync(Lane lane, int key)
    {
        Queue<SentBatch> inFlight = new(MaxBatchesInFlight);
        Stack<List<Member>> spare = new(MaxBatchesInFlight);
        List<Member> refused = [];

        // After a refusal the batches still in flight went to the same server and were refused too: their members go
        // again, in their order, before any later batch is sent, so the lane sends nothing new until they are answered.
        bool draining = false;
        while (true)
        {
            draining &= inFlight.Count > 0;
            while (!draining && inFlight.Count < MaxBatchesInFlight)
            {
                List<Member> next = spare.Count > 0 ? spare.Pop() : [];
                if (!TakeBatch(lane, key, next, mayClose: inFlight.Count == 0))
                {
                    spare.Push(next);
                    break;
                }

                inFlight.Enqueue(new(next, SendSafely(next)));
                if (inFlight.Count < MaxBatchesInFlight)
                {
                    await Task.Yield();
                }
            }

            if (!inFlight.TryDequeue(out SentBatch sent))
            {
                // TakeBatch closed the lane: nobody waits, and nothing is in flight.
                return;
            }

            List<Member> batch = sent.Members;
            string? refusal = await AnswerAsync(batch, sent.Call, refused).ConfigureAwait(false);
            int searches = sent.Call.Searches;

            // A batch refused before it ran (NOSCRIPT, a moving slot) was sent again by AnswerAsync, and one that failed
            // as a whole (a timeout, a dropped connection) was failed: the one in flight behind it most likely was
            // refused or failed too, and is answered (sent again after it) before the lane sends anything new.
            draining |= refusal is not null || !sent.Call.Reply.IsCompletedSuccessfully;

            if (refusal is not null)
            {
                (batch, refused) = await ResendRefusedAsync(batch, refused, refusal, searches).ConfigureAwait(false);
            }

            // Each member went back to the pool when both its caller and the lane were done with it.
            batch.Clear();
            refused.Clear();
            spare.Push(batch);
            await Task.Yield();
        }
    }

    /// <summary>
    /// Takes the next batch from the front of the lane into <paramref name="batch"/>, in arrival order and within the
    /// bounds; drops members whose callers cancelled and fails those that waited too long. False when nobody waits,
    /// and then, when <paramref name="mayClose"/> (no batch of the lane is in flight), the lane closed.
    /// </summary>
    private bool TakeBatch(Lane lane, int key, List<Member> batch, bool mayClose)
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
                if (!mayClose)
                {
                    return false;
                }

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
}
