using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// The timers of the ratio breakers: the end of a half-open phase (recovery or a trip again) and the readings of a
/// tightened category (<c>RatioBreaker.Account.cs</c>). Every instance times every half-open phase it sees in the shared
/// flags, not only those it tripped, and the first to claim the phase's end in the shared key-value store decides it:
/// the recovery is raised exactly once, also when the instance that tripped the breaker has stopped. The flags
/// themselves expire on every instance alike.
/// </summary>
internal sealed partial class RatioBreaker : IDisposable
{
    /// <summary>The most recoveries one instance waits for; beyond it the flags still expire, without the recovered event.</summary>
    private const int MaxPendingRecoveries = 10_000;

    private readonly ConcurrentDictionary<string, ITimer> _recoveries = new(StringComparer.Ordinal);

    /// <summary>The probe whose end each pending recovery waits for, by breaker key.</summary>
    private readonly ConcurrentDictionary<string, string> _probes = new(StringComparer.Ordinal);
    private bool _disposed;
    private readonly ConcurrentDictionary<Task, byte> _running = new();

    /// <summary>Completes when every recovery that has started has finished; for tests on a fake clock.</summary>
    internal Task WhenIdleAsync() => Task.WhenAll(_running.Keys);

    /// <summary>How many recoveries this instance waits for.</summary>
    internal int PendingRecoveries => _recoveries.Count;

    public void Dispose()
    {
        _disposed = true;
        if (_state is not null)
        {
            _state.Published -= AdoptHalfOpen;
        }

        foreach (ITimer timer in _recoveries.Values)
        {
            timer.Dispose();
        }

        _recoveries.Clear();
    }

    /// <summary>
    /// Schedules the end of every half-open phase, and the next reading of every tightened category, in
    /// <paramref name="snapshot"/> that this instance does not wait for yet: tripped elsewhere, or before it started.
    /// </summary>
    private void AdoptHalfOpen(GuardStateSnapshot snapshot)
    {
        if (_disposed || !_options.Enabled || !snapshot.HasFlags)
        {
            return;
        }

        try
        {
            DateTimeOffset now = _time.GetUtcNow();
            foreach (EmailGuardFlag flag in snapshot.Flags)
            {
                if (flag.PartyType == EmailGuardPartyType.Category && flag.Reason is EmailGuardFlagReasons.AccountBounceRate or EmailGuardFlagReasons.AccountComplaintRate
                    && string.Equals(flag.CreatedBy, By, StringComparison.Ordinal) && flag.IsActive(now) && Risky.Contains(flag.PartyId) && _flags is not null)
                {
                    BreakerMemory category = new(EmailGuardPartyType.Category, flag.PartyId, flag.Reason);
                    if (!_probes.TryGetValue(category.Key, out string? round) || !string.Equals(round, Round(flag.ExpiresAt), StringComparison.Ordinal))
                    {
                        ScheduleCheck(category, flag.ExpiresAt);
                    }

                    continue;
                }

                if (_probeRule is null)
                {
                    continue;
                }

                string? reason = flag.Reason switch
                {
                    EmailGuardFlagReasons.HighBounceRateHalfOpen => EmailGuardFlagReasons.HighBounceRate,
                    EmailGuardFlagReasons.ComplaintRateHalfOpen => EmailGuardFlagReasons.ComplaintRate,
                    _ => null,
                };
                if (reason is null || flag.PartyType is not (EmailGuardPartyType.Tenant or EmailGuardPartyType.User or EmailGuardPartyType.TenantPool) || !flag.IsActive(now)
                    || ProbeIdOf(flag) is not { } probeId)
                {
                    continue;
                }

                BreakerMemory memory = new(flag.PartyType, flag.PartyId, reason);
                NoteBeganEarly(snapshot, flag, memory, probeId, now);
                if (_probes.TryGetValue(memory.Key, out string? waiting) && string.Equals(waiting, probeId, StringComparison.Ordinal))
                {
                    continue;
                }

                int level = flag.Metadata is { } metadata && metadata.TryGetValue(LevelMetadata, out string? text)
                    && int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed)
                    ? Math.Clamp(parsed, 1, 1_000)
                    : 1;
                ScheduleRecovery(memory, probeId, level, flag.ExpiresAt);
            }
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(_logger, EmailGuardDimension.Tenant, LogValue.Of(ex));
        }
    }

    private void ScheduleRecovery(BreakerMemory memory, string probeId, int level, DateTimeOffset halfOpenUntil)
    {
        if (_disposed)
        {
            return;
        }

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

        _probes[memory.Key] = probeId;
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
    /// The end of a half-open phase: unless a later trip replaced this one, the probe decides. Every instance that
    /// follows the phase gets here; the first to claim it in the shared key-value store decides it, once: it recovers the
    /// breaker, or trips it again.
    /// </summary>
    private async Task RecoverAsync(BreakerMemory memory, string probeId, int level)
    {
        try
        {
            (_, string? current) = ParseMemory(await _feedback.Mappings.GetAsync(memory.Key, CancellationToken.None).ConfigureAwait(false));
            if (!string.Equals(current, probeId, StringComparison.Ordinal)
                || !await ClaimAsync(KeyPrefix + "r:" + probeId, _options.EscalationMemory, "claim the end of a ratio breaker's half-open phase", CancellationToken.None).ConfigureAwait(false))
            {
                return;
            }

            bool complaint = string.Equals(memory.Reason, EmailGuardFlagReasons.ComplaintRate, StringComparison.Ordinal);
            EmailFeedbackCounts probe = await ReadProbeAsync(memory.PartyType, memory.Party, probeId, CancellationToken.None).ConfigureAwait(false);
            EmailRatioBreakerAction action = JudgeProbe(probe, complaint);
            if (action != EmailRatioBreakerAction.None)
            {
                // A failure the evaluation missed (a store hiccup): the probe failed, so it trips again, unless an
                // instance whose clock had not reached the phase's end yet tripped it again on that failure.
                if (!await ClaimRetripAsync(memory, probeId, CancellationToken.None).ConfigureAwait(false))
                {
                    return;
                }

                await TripAsync(memory, probe, action, level + 1, new EmailSendAttribution(), CancellationToken.None).ConfigureAwait(false);
                return;
            }

            long failures = complaint ? probe.Complaints : probe.Bounces;
            DateTimeOffset now = _time.GetUtcNow();
            if (memory.Pool is { } pool)
            {
                if (_logger.IsEnabled(LogLevel.Information))
                {
                    string shownPool = LogValue.Of(pool);
                    LogPoolRecovered(_logger, shownPool, memory.Reason, probe.Sends, failures, level);
                }
            }
            else
            {
                LogRecovered(_logger, memory.Dimension, memory.Reason, probe.Sends, failures, level);
            }

            if (_options.OnRecovered is { } onRecovered)
            {
                try
                {
                    await onRecovered(new EmailRatioBreakerRecoveredArguments
                    {
                        Dimension = memory.Dimension,
                        Partition = memory.Partition,
                        TenantPool = memory.Pool,
                        Reason = memory.Reason,
                        ProbeSends = probe.Sends,
                        ProbeFailures = failures,
                        Level = level,
                        RecoveredAt = now,
                    }).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogCallbackFailed(_logger, LogValue.Of(ex));
                }
            }
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(_logger, memory.Dimension, LogValue.Of(ex));
        }
        finally
        {
            // Only this phase's timer: a trip again (here or on another instance) has scheduled the next one meanwhile.
            if (_probes.TryRemove(new KeyValuePair<string, string>(memory.Key, probeId))
                && _recoveries.TryGetValue(memory.Key, out ITimer? timer) && _recoveries.TryRemove(new KeyValuePair<string, ITimer>(memory.Key, timer)))
            {
                timer.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 2600, EventName = "RatioBreakerRecovered", Level = LogLevel.Information,
        Message = "A {Dimension}'s ratio breaker ({Reason}) recovered: its half-open probe sent {ProbeSends} messages with {ProbeFailures} failures, after {Level} trip(s) in a row.")]
    private static partial void LogRecovered(ILogger logger, EmailGuardDimension dimension, string reason, long probeSends, long probeFailures, int level);

    [LoggerMessage(EventId = 3084, EventName = "TenantPoolRatioBreakerRecovered", Level = LogLevel.Information,
        Message = "The ratio breaker ({Reason}) of the tenant pool {Pool} recovered: its half-open probe sent {ProbeSends} messages of its tenants with {ProbeFailures} failures, after {Level} trip(s) in a row.")]
    private static partial void LogPoolRecovered(ILogger logger, string pool, string reason, long probeSends, long probeFailures, int level);

    [LoggerMessage(EventId = 2601, EventName = "RatioBreakerRecoveryFailed", Level = LogLevel.Warning,
        Message = "The end of a {Dimension}'s half-open phase could not be evaluated; its flags expire all the same, without the recovered event.")]
    private static partial void LogRecoveryFailed(ILogger logger, EmailGuardDimension dimension, Exception exception);

    [LoggerMessage(EventId = 2602, EventName = "RatioBreakerRecoveryNotScheduled", Level = LogLevel.Warning,
        Message = "A {Dimension}'s half-open phase is not followed by this instance: it already waits for {Max} recoveries. Its flags expire all the same, without the recovered event.")]
    private static partial void LogRecoveryNotScheduled(ILogger logger, EmailGuardDimension dimension, int max);
}
