using System.Threading.Tasks.Sources;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>The acquires waiting in a lane, and the pool they are reused from.</summary>
internal sealed partial class RedisScriptBatcher
{
    /// <summary>
    /// An acquire waiting in a lane: its keys and arguments held inline, and the pending reply its caller awaits.
    /// Claimed once: by its batch (sent, then answered with its reply or the batch's failure), by its caller's
    /// cancellation (dropped, cancelled), or by the queue timeout (failed unsent). Its continuation runs on the
    /// thread pool, never inline where the batch is answered.
    /// </summary>
    /// <remarks>
    /// Two parties hold it: its caller, until it has read the reply, and its lane, until it has answered or dropped it.
    /// It goes back to its pool when both are done, so a member is never reused while either can still touch it (the
    /// lane keeps dropped members queued until it dequeues them).
    /// </remarks>
    private sealed class Member(MemberPool pool) : IValueTaskSource<RedisResult>
    {
        private const int Queued = 0;
        private const int Sent = 1;
        private const int Dropped = 2;
        private const int Answered = 3;

        private ManualResetValueTaskSourceCore<RedisResult> _reply = new() { RunContinuationsAsynchronously = true };
        private int _state;
        private int _holders;
        private CancellationTokenRegistration _cancellation;
        private RedisScriptCall _call;

        public IDatabase Database { get; private set; } = null!;

        public RedisScript Script { get; private set; } = null!;

        public RedisValue Kind { get; private set; }

        /// <summary>
        /// The kind that repeats the arguments of the member before (single-key) or of the last multi-key member;
        /// null when its kind has none.
        /// </summary>
        public RedisValue RepeatKind { get; private set; }

        /// <summary>Whether the batch being written sends it as a repeat of an earlier member (see <see cref="RepeatKind"/>).</summary>
        public bool RepeatsPrevious { get; set; }

        /// <summary>Its keys and arguments; by reference, since they are held inline.</summary>
        public ref readonly RedisScriptCall Call => ref _call;

        public int Values { get; private set; }

        public long StartedAt { get; private set; }

        public long QueuedAt { get; private set; }

        public bool IsQueued => Volatile.Read(ref _state) == Queued;

        /// <summary>The reply its caller awaits, exactly once.</summary>
        public ValueTask<RedisResult> Reply => new(this, _reply.Version);

        public void Start(
            IDatabase database, RedisScript script, RedisValue kind, RedisValue repeatKind, in RedisScriptCall call, int values, long startedAt, long queuedAt)
        {
            Database = database;
            Script = script;
            Kind = kind;
            RepeatKind = repeatKind;
            RepeatsPrevious = false;
            _call = call;
            Values = values;
            StartedAt = startedAt;
            QueuedAt = queuedAt;
            _state = Queued;
            _holders = 2;
        }

        /// <summary>Its caller's token, which a member refused as a read-only replica is checked against before it goes again.</summary>
        public CancellationToken CallerToken { get; private set; }

        public void CancelWith(CancellationToken cancellationToken)
        {
            CallerToken = cancellationToken;
            if (cancellationToken.CanBeCanceled)
            {
                _cancellation = cancellationToken.UnsafeRegister(
                    static (state, token) =>
                    {
                        Member member = (Member)state!;
                        if (Interlocked.CompareExchange(ref member._state, Dropped, Queued) == Queued)
                        {
                            member._reply.SetException(new OperationCanceledException(token));
                        }
                    },
                    this);
            }
        }

        /// <summary>Claims the member for a batch about to be sent; false, and let go by the lane, when its caller cancelled first.</summary>
        public bool TrySend()
        {
            if (Interlocked.CompareExchange(ref _state, Sent, Queued) != Queued)
            {
                Release();
                return false;
            }

            _cancellation.Dispose();
            return true;
        }

        /// <summary>Fails the member unsent for having waited too long, and lets it go.</summary>
        public void TimeOut()
        {
            if (Interlocked.CompareExchange(ref _state, Dropped, Queued) == Queued)
            {
                _cancellation.Dispose();
                _reply.SetException(new TimeoutException("The acquire waited for its Redis node's next batch longer than the store's timeout; it was not sent."));
            }

            Release();
        }

        /// <summary>Answers a sent member with its reply, and lets it go.</summary>
        public void Complete(RedisResult reply)
        {
            if (Interlocked.CompareExchange(ref _state, Answered, Sent) == Sent)
            {
                _reply.SetResult(reply);
                Release();
            }
        }

        /// <summary>Fails a sent member, and lets it go.</summary>
        public void Fail(Exception exception)
        {
            if (Interlocked.CompareExchange(ref _state, Answered, Sent) == Sent)
            {
                _reply.SetException(exception);
                Release();
            }
        }

        public RedisResult GetResult(short token)
        {
            try
            {
                return _reply.GetResult(token);
            }
            finally
            {
                // The caller has its reply (the one await a ValueTask allows).
                Release();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _reply.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _reply.OnCompleted(continuation, state, token, flags);

        private void Release()
        {
            if (Interlocked.Decrement(ref _holders) != 0)
            {
                return;
            }

            // Waits for a cancellation callback still running, so that it cannot touch the member's next use.
            _cancellation.Dispose();
            _cancellation = default;
            CallerToken = default;
            Database = null!;
            Script = null!;
            Kind = default;
            RepeatKind = default;
            _call = default;
            _reply.Reset();
            pool.Return(this);
        }
    }

    /// <summary>Members to reuse, so that a batched acquire allocates no waiting state of its own.</summary>
    private sealed class MemberPool
    {
        /// <summary>The most members kept: more than a lane's usual batches hold, bounded so a burst is not kept.</summary>
        private const int Capacity = 1024;

        private readonly Member[] _members = new Member[Capacity];
        private int _count;

        public Member Rent()
        {
            lock (_members)
            {
                if (_count > 0)
                {
                    Member member = _members[--_count];
                    _members[_count] = null!;
                    return member;
                }
            }

            return new Member(this);
        }

        public void Return(Member member)
        {
            lock (_members)
            {
                if (_count < Capacity)
                {
                    _members[_count++] = member;
                }
            }
        }
    }
}
