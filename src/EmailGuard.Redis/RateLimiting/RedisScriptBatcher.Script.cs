using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// The batch script's call and reply: the layout a batch (or one member sent alone) goes out in, and how its reply is
/// read back into each member's own reply, its own script's error, or a refusal as a read-only replica.
/// </summary>
internal sealed partial class RedisScriptBatcher
{
    /// <summary>
    /// Sends an acquire on its own, outside its lane (too large for a batch, or its lane full): as its own script, or,
    /// when the batch's keys go as arguments (the node script, whose members' keys span several slots, which one
    /// acquire script may not declare), as a batch script of that one member.
    /// </summary>
    private ValueTask<RedisResult> SendAlone(
        IDatabase database, RedisScript script, RedisValue kind, in RedisScriptCall call, long startedAt, CancellationToken cancellationToken)
    {
        if (!_keysAsArguments)
        {
            return new(_scripts.SendAsync(database, script, call.Keys, call.Arguments, startedAt, cancellationToken));
        }

        RedisKey[] keys = new RedisKey[call.KeyCount];
        RedisValue[] arguments = new RedisValue[2 + call.ArgumentCount];
        arguments[0] = 1;
        arguments[1] = kind;
        call.CopyTo(keys, 0, arguments, 2);
        (keys, arguments) = RedisNodeScriptLayout.Pack(keys, arguments);
        return new(OnlyReplyAsync(database, keys, arguments, startedAt, cancellationToken));
    }

    /// <summary>
    /// The reply of the one member of a batch script sent on its own, or its own script's error; sent again when the
    /// member was refused as a read-only replica and the connection finds the primary within the retry budget.
    /// </summary>
    private async Task<RedisResult> OnlyReplyAsync(
        IDatabase database, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
    {
        for (int resends = 0; ; resends++)
        {
            int searches = _scripts.PrimarySearches;
            RedisResult raw = await _scripts.SendAsync(database, _batchScript, keys, arguments, startedAt, cancellationToken).ConfigureAwait(false);
            if (raw.Resp2Type != ResultType.Array || raw.Length != 1)
            {
                throw new RedisException("The batch script of one acquire replied with something other than one reply.");
            }

            RedisResult reply = ((RedisResult[])raw!)[0];
            if (reply.Resp2Type != ResultType.BulkString)
            {
                return reply;
            }

            string message = (string)reply!;
            if (!await _scripts.PrimaryFoundAsync(message, searches, resends, startedAt, _batchScript.Name, cancellationToken).ConfigureAwait(false))
            {
                throw MemberFailure(message);
            }
        }
    }

    /// <summary>The error of a member whose own script failed, which the batch script replied as a string.</summary>
    private static RedisServerException MemberFailure(string message)
        => new(message.StartsWith("WRONGTYPE", StringComparison.Ordinal) ? RedisErrorKind.WrongType : RedisErrorKind.UnknownError, CommandFlags.None, message);


    /// <summary>Sends one member as its own script, or several as the batch script.</summary>
    private BatchCall Send(List<Member> batch)
    {
        Member first = batch[0];
        if (batch.Count == 1 && !_always)
        {
            return Send(first.Database, first.Script, first.Call.Keys, first.Call.Arguments, first.StartedAt);
        }

        int keyCount = 0;
        int argumentCount = 1 + batch.Count;
        long startedAt = first.StartedAt;
        Member? previous = null;
        Member? lastMultiKey = null;
        foreach (Member member in batch)
        {
            // A single-key member of the same kind and arguments as the one just before (one rule over many keys),
            // or a multi-key member of the same kind and arguments as the last multi-key one (guard checks of one
            // rule set, with single-key members between or not), names its kind's repeat and sends no arguments.
            // The kind is the script's (and, for a multi-key one, its number of keys, which HasSameArguments
            // compares), so the scripts are compared by reference instead of the kinds as RedisValues.
            Member? like = member.Call.IsInline ? previous : lastMultiKey;
            member.RepeatsPrevious = like is not null && !member.RepeatKind.IsNull && ReferenceEquals(member.Script, like.Script)
                && member.Call.HasSameArguments(like.Call);
            keyCount += member.Call.KeyCount;
            argumentCount += member.RepeatsPrevious ? 0 : member.Call.ArgumentCount;
            startedAt = Math.Min(startedAt, member.StartedAt);
            previous = member;
            if (!member.Call.IsInline)
            {
                lastMultiKey = member;
            }
        }

        RedisKey[] keys = new RedisKey[keyCount];
        RedisValue[] arguments = new RedisValue[argumentCount];
        arguments[0] = batch.Count;
        int k = 0;
        int a = 1 + batch.Count;
        int repeated = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            Member member = batch[i];
            if (member.RepeatsPrevious)
            {
                arguments[1 + i] = member.RepeatKind;
                member.Call.CopyKeysTo(keys, k);
                repeated++;
            }
            else
            {
                arguments[1 + i] = member.Kind;
                member.Call.CopyTo(keys, k, arguments, a);
                a += member.Call.ArgumentCount;
            }

            k += member.Call.KeyCount;
        }

        Interlocked.Increment(ref _batchesSent);
        Interlocked.Add(ref _membersBatched, batch.Count);
        Interlocked.Add(ref _membersRepeated, repeated);

        if (_keysAsArguments)
        {
            (keys, arguments) = RedisNodeScriptLayout.Pack(keys, arguments);
        }

        // The retry budget counts from the earliest member's start: its caller's timeout started then.
        return Send(first.Database, _batchScript, keys, arguments, startedAt);
    }

    /// <summary>
    /// Sends a script once, without recovering from a refusal: the lane recovers its batches as it answers them, one
    /// after another, in the order it sent them (see <see cref="AnswerAsync"/>).
    /// </summary>
    private BatchCall Send(IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, long startedAt)
    {
        int searches = _scripts.PrimarySearches;
        return new(database, script, keys, arguments, startedAt, searches, RedisScriptRunner.SendOnceAsync(database, script, keys, arguments));
    }

    /// <summary>
    /// A script sent for a batch (or its one member): what it takes to send it again, how many times the connection had
    /// looked for the primary when it went, and its first reply.
    /// </summary>
    private readonly record struct BatchCall(
        IDatabase Database, RedisScript Script, RedisKey[] Keys, RedisValue[] Arguments, long StartedAt, int Searches, Task<RedisResult> Reply);

    /// <summary>
    /// Answers each member with its own reply, or with its own script's error, but for members refused as a read-only
    /// replica, which go to <paramref name="refused"/> unanswered; when the reply is not one per member, answers none
    /// and returns the failure they all fail with. Returns a refusal when a member was refused.
    /// </summary>
    private (RedisException? Failure, string? Refusal) Answer(List<Member> batch, RedisResult raw, List<Member> refused)
    {
        if (batch.Count == 1 && !_always)
        {
            batch[0].Complete(raw);
            return default;
        }

        // Checked before anyone is answered: a member answered goes back to its pool, and must not be failed after.
        if (raw.Resp2Type != ResultType.Array || raw.Length != batch.Count)
        {
            return (new RedisException($"The batch script of {batch.Count} acquires replied with something other than one reply per acquire."), null);
        }

        RedisResult[] replies = (RedisResult[])raw!;
        string? refusal = null;
        for (int i = 0; i < batch.Count; i++)
        {
            RedisResult reply = replies[i];
            if (reply.Resp2Type != ResultType.BulkString)
            {
                batch[i].Complete(reply);
                continue;
            }

            string message = (string)reply!;
            if (RedisPrimaryRefresh.IsReplicaRefusal(message))
            {
                // Its write was refused, so it wrote nothing, and neither did the end of the batch on its behalf.
                refusal ??= message;
                refused.Add(batch[i]);
            }
            else
            {
                batch[i].Fail(MemberFailure(message));
            }
        }

        return (null, refusal);
    }

    /// <summary>Sends a batch; a failure to even send it becomes the batch's failure, as a failed reply would be.</summary>
    private BatchCall SendSafely(List<Member> batch)
    {
        try
        {
            return Send(batch);
        }
#pragma warning disable CA1031 // Every member fails with the batch's failure, as its own call would have failed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new(null!, null!, [], [], 0, _scripts.PrimarySearches, Task.FromException<RedisResult>(ex));
        }
    }

    /// <summary>
    /// Answers the members of one sent batch when its reply comes, but for those refused as a read-only replica,
    /// which go to <paramref name="refused"/> unanswered, in order; returns that refusal (null when there were none).
    /// </summary>
    private async Task<string?> AnswerAsync(List<Member> batch, BatchCall call, List<Member> refused)
    {
        Exception? failure;
        string? refusal = null;
        try
        {
            RedisResult raw;
            try
            {
                raw = await call.Reply.ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (call.Script is not null && _scripts.IsRecoverable(ex, call.Script))
            {
                // Refused before it ran (NOSCRIPT, a moving slot, a read-only replica): sent again here, as the lane
                // answers its batches in the order it sent them, so that a batch sent behind it and refused too goes
                // again after it, not in a race with it.
                raw = await _scripts.RecoverAsync(
                    call.Database, call.Script, call.Keys, call.Arguments, ex, call.Searches, call.StartedAt, CancellationToken.None).ConfigureAwait(false);
            }

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
                Exception shownFailure = LogValue.Of(failure);
                Log.BatchFailed(_logger, batch.Count, shownFailure);
            }

            foreach (Member member in batch)
            {
                member.Fail(failure);
            }
        }

        return refusal;
    }

    /// <summary>A batch sent and not yet answered, and its script call.</summary>
    private readonly record struct SentBatch(List<Member> Members, BatchCall Call);

    /// <summary>
    /// Sends the members a server refused as a read-only replica (a failover the client has not seen) again, in their
    /// order, once the connection has looked for the primary, within the retry budget of the earliest of them, ahead of
    /// the members queued since (a batch sent behind theirs before the refusal came back mostly went to the same server
    /// and is refused too); fails them with the refusal when no primary was found. They wrote nothing, so a member whose
    /// caller cancelled meanwhile is dropped. Returns the two lists it worked with, for the lane to clear and reuse.
    /// </summary>
    /// <param name="batch">The batch just answered, whose refused members are in <paramref name="refused"/>.</param>
    /// <param name="refused">The members refused, in their order.</param>
    /// <param name="refusal">The refusal.</param>
    /// <param name="searches">How many times the connection had looked for the primary when the batch was sent.</param>
    private async Task<(List<Member> Batch, List<Member> Refused)> ResendRefusedAsync(List<Member> batch, List<Member> refused, string? refusal, int searches)
    {
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

            BatchCall resent = SendSafely(batch);
            searches = resent.Searches;
            refusal = await AnswerAsync(batch, resent, refused).ConfigureAwait(false);
        }

        return (batch, refused);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1810, EventName = "RedisAcquireBatchFailed", Level = LogLevel.Debug,
            Message = "A batch script of {Members} acquires failed as a whole; each of them fails as its own call would have.")]
        public static partial void BatchFailed(ILogger logger, int members, Exception exception);
    }
}
