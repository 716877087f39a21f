using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace EmailGuard.Redis;

/// <summary>
/// Following a Redis Cluster reshard. A partition's counters share a hash tag, so its hourly and daily counters are
/// one multi-key script. While their slot migrates, a script whose keys are partly on the old node and partly not
/// (the daily counter not yet moved, the new hourly window's counter not yet created) is refused with <c>TRYAGAIN</c>,
/// and a node may answer <c>ASK</c> or <c>MOVED</c> that the client could not follow on its own. Every such refusal
/// comes before the script runs, so nothing was counted and the script is sent again, after a short backoff, until it
/// runs or the retry budget is spent.
/// </summary>
/// <remarks>
/// The budget is half the resilience timeout, counted from the start of the store call, so that a slot that stays
/// half-moved longer than a call may take is answered with <see cref="RateLimitStoreBusyException"/> well before the
/// resilience wrapper's own timeout fires, even on a loaded machine:
/// the wrapper then denies the call without counting a store failure, instead of opening the circuit (and with it
/// the failure mode) for every key of a store that is healthy.
/// </remarks>
internal sealed partial class RedisRateLimitStore
{
    /// <summary>The longest pause between two attempts: a slot's keys move in milliseconds.</summary>
    private const int MaxBackoffMilliseconds = 16;

    private static bool IsSlotMoving(RedisServerException exception)
    {
        string message = exception.Message;
        return message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
            || message.StartsWith("ASK ", StringComparison.Ordinal)
            || message.StartsWith("MOVED ", StringComparison.Ordinal);
    }

    /// <summary>Refusals that come before the script runs and that another attempt can overcome.</summary>
    private static bool IsRetriable(RedisServerException exception) => IsNoScript(exception) || IsSlotMoving(exception);

    /// <summary>Sends a script by its SHA and, when refused, recovers (NOSCRIPT, a moving slot). Not cut by the token once sent.</summary>
    private async Task<RedisResult> SendAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, long startedAt, CancellationToken cancellationToken)
    {
        try
        {
            return await database.ScriptEvaluateAsync(script.Hash, keys, arguments).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (IsRetriable(ex))
        {
            return await RecoverAsync(database, script, keys, arguments, ex, startedAt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends a refused script again until it runs: by its text after NOSCRIPT, by its SHA after a short backoff while
    /// its slot moves. The caller's token stops it only between attempts (a cancelled caller is never charged by a
    /// retry it did not wait for); an attempt once sent is awaited, so a completed task means the script ran.
    /// </summary>
    /// <param name="database">The database.</param>
    /// <param name="script">The script.</param>
    /// <param name="keys">Its keys.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <param name="refusal">The server's refusal of the last attempt.</param>
    /// <param name="startedAt">When the store call began (a timestamp): the budget counts from there, since the caller's timeout does.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <exception cref="RateLimitStoreBusyException">The slot was still moving when the retry budget ran out.</exception>
    private async Task<RedisResult> RecoverAsync(
        IDatabase database, RedisScript script, RedisKey[] keys, RedisValue[] arguments, RedisServerException refusal, long startedAt, CancellationToken cancellationToken)
    {
        long started = startedAt;
        int attempt = 0;
        while (true)
        {
            try
            {
                if (IsNoScript(refusal))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    return await EvaluateTextAsync(database, script, keys, arguments, CancellationToken.None).ConfigureAwait(false);
                }

                TimeSpan waited = _timeProvider.GetElapsedTime(started);
                if (waited >= _slotRetryBudget)
                {
                    Log.SlotStillMoving(_logger, script.Name, attempt, waited, refusal.Message);
                    throw new RateLimitStoreBusyException(
                        $"The Redis Cluster slot of this call was still moving after {attempt} attempts in {waited.TotalMilliseconds:0} ms; nothing was counted.",
                        refusal);
                }

                if (attempt == 0)
                {
                    Log.SlotMoving(_logger, script.Name, refusal.Message);
                }

                TimeSpan backoff = TimeSpan.FromMilliseconds(Math.Min(MaxBackoffMilliseconds, 1 << Math.Min(attempt, 4)));
                attempt++;
                await Task.Delay(backoff, _timeProvider, cancellationToken).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                return await database.ScriptEvaluateAsync(script.Hash, keys, arguments).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (IsRetriable(ex))
            {
                refusal = ex;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1300, EventName = "RedisSlotMoving", Level = LogLevel.Debug,
            Message = "A Redis Cluster node refused the EmailGuard '{Script}' script while its slot moves ({Refusal}); it is sent again.")]
        public static partial void SlotMoving(ILogger logger, string script, string refusal);

        [LoggerMessage(EventId = 1301, EventName = "RedisSlotStillMoving", Level = LogLevel.Warning,
            Message = "The Redis Cluster slot of an EmailGuard '{Script}' script was still moving after {Attempts} attempts in {Waited} ({Refusal}); the call is denied as store-unavailable, nothing was counted.")]
        public static partial void SlotStillMoving(ILogger logger, string script, int attempts, TimeSpan waited, string refusal);
    }
}
