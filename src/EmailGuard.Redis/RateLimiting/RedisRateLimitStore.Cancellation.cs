using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Cancellation charges nothing. An acquire whose caller cancelled before its script was sent is not sent. One whose
/// caller cancels while its script is in flight is answered at once with the cancellation, and what the script took
/// is given back as soon as it completes, so the counter settles at exactly what callers were told was admitted.
/// </summary>
/// <remarks>
/// <para>
/// A script that fails after it was sent (a timeout, a dropped connection) may or may not have run; nothing is given
/// back then, since giving back what was never taken could let a limit be passed. A give-back that fails is logged;
/// the permit then stays taken until its window ends, which only makes that limit stricter.
/// </para>
/// <para>
/// The core's resilient store has a similar tracker on purpose: only the set of running tasks that tests await is
/// alike, a dozen lines. The give-back differs (this one reads from the raw script reply whether and when it admitted,
/// and refunds by that timestamp; the core's refunds a finished decision through the public store interface), and
/// sharing the dozen lines would make a task tracker public API of the core, which no store needs.
/// </para>
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    private static readonly Func<RedisResult, (long At, long DecidedAt)?> s_admittedAtOfAcquire = RedisScriptCodec.AdmittedAtOfAcquire;

    private readonly ConcurrentDictionary<Task, byte> _givingBack = new();

    /// <summary>
    /// Completes once every coalescing lane and every give-back started so far has finished, so the counters hold
    /// their final values; for tests that count exactly.
    /// </summary>
    internal async Task SettledAsync()
    {
        while (!_givingBack.IsEmpty)
        {
            await Task.WhenAll(_givingBack.Keys).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for a sent acquire script under the caller's token. When the caller cancels first, the requests are copied
    /// (the caller's buffers may be reused once it has its answer) and given back once the script completes, if
    /// <paramref name="admittedAt"/> says the reply admitted them, at the time it returns.
    /// </summary>
    private async Task<RedisResult> AwaitAcquireAsync(
        ValueTask<RedisResult> sending, ReadOnlyMemory<RateLimitRequest> requests, int[]? group, Func<RedisResult, (long At, long DecidedAt)?> admittedAt, CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return await sending.ConfigureAwait(false);
        }

        Task<RedisResult> sent = sending.AsTask();
        try
        {
            return await sent.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !sent.IsCanceled)
        {
            GiveBackWhenDone(sent, Copy(requests.Span, group), admittedAt);
            throw;
        }
    }

    private static RateLimitRequest[] Copy(ReadOnlySpan<RateLimitRequest> requests, int[]? group)
    {
        if (group is null)
        {
            return requests.ToArray();
        }

        RateLimitRequest[] copy = new RateLimitRequest[group.Length];
        for (int k = 0; k < group.Length; k++)
        {
            copy[k] = requests[group[k]];
        }

        return copy;
    }

    private void GiveBackWhenDone(Task<RedisResult> sent, RateLimitRequest[] requests, Func<RedisResult, (long At, long DecidedAt)?> admittedAt)
        => Track(GiveBackAsync(sent, requests, admittedAt));

    /// <summary>Gives back an acquire that was admitted for a caller who had cancelled by the time its answer came.</summary>
    public void GiveBackAdmitted(RateLimitRequest request, DateTimeOffset acquiredAt)
        => Track(RefundLoggedAsync([request], acquiredAt.ToUnixTimeMilliseconds(), acquiredAt.ToUnixTimeMilliseconds()));

    /// <summary>Tracks a give-back or a lane, so that <see cref="SettledAsync"/> can wait for it.</summary>
    public void Track(Task givingBack)
    {
        if (givingBack.IsCompleted)
        {
            return;
        }

        _givingBack.TryAdd(givingBack, 0);
        _ = givingBack.ContinueWith(
            static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
            _givingBack,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task GiveBackAsync(Task<RedisResult> sent, RateLimitRequest[] requests, Func<RedisResult, (long At, long DecidedAt)?> admittedAt)
    {
        (long At, long DecidedAt)? at;
        try
        {
            at = admittedAt(await sent.ConfigureAwait(false));
        }
#pragma warning disable CA1031 // The caller has its answer; whether this script ran is unknown, and then nothing is given back (see the remarks).
        catch (Exception)
#pragma warning restore CA1031
        {
            return;
        }

        if (at is { } admitted)
        {
            await RefundLoggedAsync(requests, admitted.At, admitted.DecidedAt).ConfigureAwait(false);
        }
    }

    private async Task RefundLoggedAsync(RateLimitRequest[] requests, long acquiredAtMs, long decidedAtMs)
    {
        try
        {
            await RefundCoreAsync(requests, acquiredAtMs, decidedAtMs, 0, CancellationToken.None).ConfigureAwait(false);
            Log.CancelledAcquireGivenBack(_logger, requests.Length);
        }
#pragma warning disable CA1031 // Logged, not thrown: nobody waits for this, and a permit left taken only makes a limit stricter.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.CancelledAcquireGiveBackFailed(_logger, LogValue.Of(ex));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1302, EventName = "RedisCancelledAcquireGivenBack", Level = LogLevel.Debug,
            Message = "An acquire of {Requests} request(s) whose caller cancelled while it was in flight had been admitted; its permits were given back.")]
        public static partial void CancelledAcquireGivenBack(ILogger logger, int requests);

        [LoggerMessage(EventId = 1303, EventName = "RedisCancelledAcquireGiveBackFailed", Level = LogLevel.Warning,
            Message = "Permits of an acquire whose caller cancelled could not be given back; that counter stays stricter until its window ends.")]
        public static partial void CancelledAcquireGiveBackFailed(ILogger logger, Exception exception);
    }
}
