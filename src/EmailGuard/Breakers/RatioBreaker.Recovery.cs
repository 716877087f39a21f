using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The timers of the ratio breakers: the end of a half-open phase (recovery or a trip again) and the readings of a
/// tightened category (<c>RatioBreaker.Account.cs</c>). Each instance times what it tripped; the flags themselves expire on
/// every instance alike, so a lost timer loses an event, never a recovery.
/// </summary>
internal sealed partial class RatioBreaker : IDisposable
{
    /// <summary>The most recoveries one instance waits for; beyond it the flags still expire, without the recovered event.</summary>
    private const int MaxPendingRecoveries = 10_000;

    private readonly ConcurrentDictionary<string, ITimer> _recoveries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _running = new();

    /// <summary>Completes when every recovery that has started has finished; for tests on a fake clock.</summary>
    internal Task WhenIdleAsync() => Task.WhenAll(_running.Keys);

    /// <summary>How many recoveries this instance waits for.</summary>
    internal int PendingRecoveries => _recoveries.Count;

    public void Dispose()
    {
        foreach (ITimer timer in _recoveries.Values)
        {
            timer.Dispose();
        }

        _recoveries.Clear();
    }

    private void ScheduleRecovery(BreakerMemory memory, string probeId, int level, DateTimeOffset halfOpenUntil)
    {
        if (!_recoveries.ContainsKey(memory.Key) && _recoveries.Count >= MaxPendingRecoveries)
        {
            LogRecoveryNotScheduled(_logger, memory.Dimension, MaxPendingRecoveries);
            return;
        }

        TimeSpan due = halfOpenUntil - _time.GetUtcNow();
        ITimer timer = _time.CreateTimer(
            _ => Track(RecoverAsync(memory, probeId, level)), null, due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        if (_recoveries.TryGetValue(memory.Key, out ITimer? previous))
        {
            previous.Dispose();
        }

        _recoveries[memory.Key] = timer;
    }

    private void Track(Task task)
    {
        if (task.IsCompleted)
        {
            return;
        }

        _running.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _), _running, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// The end of a half-open phase: unless a later trip replaced this one, the probe decides. Under the lines the
    /// breaker recovers, and exactly one instance raises it (a marker in the shared key-value store elects it).
    /// </summary>
    private async Task RecoverAsync(BreakerMemory memory, string probeId, int level)
    {
        try
        {
            (_, string? current) = ParseMemory(await _feedback.Mappings.GetAsync(memory.Key, CancellationToken.None).ConfigureAwait(false));
            if (!string.Equals(current, probeId, StringComparison.Ordinal))
            {
                return;
            }

            bool complaint = string.Equals(memory.Reason, EmailGuardFlagReasons.ComplaintRate, StringComparison.Ordinal);
            EmailFeedbackCounts probe = await ReadProbeAsync(memory.PartyType, memory.Party, probeId, CancellationToken.None).ConfigureAwait(false);
            EmailRatioBreakerAction action = JudgeProbe(probe, complaint);
            if (action != EmailRatioBreakerAction.None)
            {
                // A failure the evaluation missed (a store hiccup): the probe failed, so it trips again.
                await TripAsync(memory, probe, action, level + 1, new EmailSendAttribution(), CancellationToken.None).ConfigureAwait(false);
                return;
            }

            if (await _feedback.Mappings.GetOrAddAsync("rb:r:" + probeId, "1", _options.EscalationMemory, "mark a ratio breaker's recovery", CancellationToken.None)
                    .ConfigureAwait(false) is not null)
            {
                return;
            }

            long failures = complaint ? probe.Complaints : probe.Bounces;
            DateTimeOffset now = _time.GetUtcNow();
            LogRecovered(_logger, memory.Dimension, memory.Reason, probe.Sends, failures, level);
            if (_options.OnRecovered is { } onRecovered)
            {
                try
                {
                    await onRecovered(new EmailRatioBreakerRecoveredArguments
                    {
                        Dimension = memory.Dimension,
                        Partition = memory.Party,
                        Reason = memory.Reason,
                        ProbeSends = probe.Sends,
                        ProbeFailures = failures,
                        Level = level,
                        RecoveredAt = now,
                    }).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogCallbackFailed(_logger, ex);
                }
            }
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(_logger, memory.Dimension, ex);
        }
        finally
        {
            if (_recoveries.TryGetValue(memory.Key, out ITimer? timer) && _recoveries.TryRemove(new KeyValuePair<string, ITimer>(memory.Key, timer)))
            {
                timer.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 2600, EventName = "RatioBreakerRecovered", Level = LogLevel.Information,
        Message = "A {Dimension}'s ratio breaker ({Reason}) recovered: its half-open probe sent {ProbeSends} messages with {ProbeFailures} failures, after {Level} trip(s) in a row.")]
    private static partial void LogRecovered(ILogger logger, EmailGuardDimension dimension, string reason, long probeSends, long probeFailures, int level);

    [LoggerMessage(EventId = 2601, EventName = "RatioBreakerRecoveryFailed", Level = LogLevel.Warning,
        Message = "The end of a {Dimension}'s half-open phase could not be evaluated; its flags expire all the same, without the recovered event.")]
    private static partial void LogRecoveryFailed(ILogger logger, EmailGuardDimension dimension, Exception exception);

    [LoggerMessage(EventId = 2602, EventName = "RatioBreakerRecoveryNotScheduled", Level = LogLevel.Warning,
        Message = "A {Dimension}'s half-open phase is not followed by this instance: it already waits for {Max} recoveries. Its flags expire all the same, without the recovered event.")]
    private static partial void LogRecoveryNotScheduled(ILogger logger, EmailGuardDimension dimension, int max);
}
