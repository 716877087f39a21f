using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace EmailGuard;

/// <summary>
/// A half-open probe judges only the mail sent in its phase. A bounce or complaint comes back hours or days after its
/// mail (an asynchronous bounce, a soft bounce a provider retried until it turned hard, a complaint the next morning):
/// one of mail sent before the phase began, before or during the trip, is the mail that tripped the breaker, and
/// counted in the probe it tripped a party that had cleaned its list again, for longer. When the send time is known
/// (<see cref="EmailFeedbackEvent.SentAt"/>, or the time a message id was tracked) and is before the phase began, the
/// failure counts in the party's window as before, but not in its probe: it neither trips it again nor fails its
/// recovery. An unknown send time counts in the probe: a bounce that cannot be dated may be of the probe's own mail, and
/// a bot would otherwise keep its probe clean by leaving its mail undated.
/// </summary>
internal sealed partial class RatioBreaker
{
    /// <summary>
    /// How much earlier than the phase's start a send must be to be left out of the probe: the clocks that date a send
    /// (the provider's, the app instance's that tracked it) and the one that timed the trip (the instance's or the store's)
    /// may disagree by this much, and a send near the start is counted in the probe, the side a bot cannot gain from.
    /// </summary>
    internal static readonly TimeSpan SendTimeSkew = TimeSpan.FromMinutes(2);

    /// <summary>The half-open flag's metadata: when its phase begins (the trip's end), in Unix seconds.</summary>
    private const string PhaseStartMetadata = "from";

    private static string PhaseStartText(DateTimeOffset tripEnds) => tripEnds.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// When the half-open phase of <paramref name="probe"/> began: as its flag says (<see cref="TripAsync"/>), or, for a
    /// flag written before it said, its end less <see cref="EmailRatioBreakerOptions.HalfOpenFor"/>. Never before the flag
    /// was written nor after it ends: an operator's flag with other metadata cannot move it out of the phase.
    /// </summary>
    private DateTimeOffset PhaseStart(EmailGuardFlag probe)
    {
        DateTimeOffset start = probe.Metadata is { } metadata && metadata.TryGetValue(PhaseStartMetadata, out string? text)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds <= probe.ExpiresAt.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : probe.ExpiresAt - _options.HalfOpenFor;
        return start < probe.CreatedAt ? probe.CreatedAt : start > probe.ExpiresAt ? probe.ExpiresAt : start;
    }

    /// <summary>
    /// Whether a failure of mail sent at <paramref name="sentAt"/> is left out of <paramref name="probe"/>'s phase: the
    /// send time is known and before the phase began, by more than <see cref="SendTimeSkew"/>. Logs it (3094).
    /// </summary>
    private async ValueTask<bool> SentBeforePhaseAsync(
        DateTimeOffset? sentAt, EmailGuardFlag probe, BreakerMemory memory, string probeId, bool complaint, CancellationToken cancellationToken)
    {
        if (sentAt is not { } sent)
        {
            return false;
        }

        DateTimeOffset start = PhaseStart(probe);
        if (sent >= start - SendTimeSkew)
        {
            return false;
        }

        // Only on the way to leaving a failure out: whether the trip was cleared before its end, so the phase began earlier.
        if (await BeganEarlyAsync(memory, probe, probeId, cancellationToken).ConfigureAwait(false))
        {
            start = probe.CreatedAt;
            if (sent >= start - SendTimeSkew)
            {
                return false;
            }
        }

        LogSentBeforePhase(_logger, memory.PartyType, complaint ? "complaint" : "bounce", sent, start);
        return true;
    }

    /// <summary>
    /// Whether mail sent at <paramref name="sent"/> was counted in <paramref name="probe"/>'s phase, as
    /// <see cref="SentBeforePhaseAsync"/> judges its failures: from <see cref="SendTimeSkew"/> before the phase began, or
    /// before the trip began when it was cleared early. Logs nothing.
    /// </summary>
    private async ValueTask<bool> SentInPhaseAsync(DateTimeOffset sent, EmailGuardFlag probe, BreakerMemory memory, string probeId, CancellationToken cancellationToken)
        => sent >= PhaseStart(probe) - SendTimeSkew
           || (sent >= probe.CreatedAt - SendTimeSkew && await BeganEarlyAsync(memory, probe, probeId, cancellationToken).ConfigureAwait(false));

    /// <summary>
    /// Whether the half-open phase of <paramref name="probe"/> began before its flag says: the party is judged half-open
    /// (its trip's flag is gone) more than <see cref="SendTimeSkew"/> before the trip was to end, so an operator cleared
    /// the trip early (the dashboard's Clear on the trip's flag leaves the half-open one), or the shared store remembers
    /// that an instance saw so (<see cref="MarkBeganEarlyAsync"/>). The party has sent at half-open limits, into the
    /// probe, since a moment the flags no longer tell: the phase is then taken to begin when the trip did, so a failure
    /// of that mail counts in the probe whenever it comes back, also after the trip's planned end.
    /// </summary>
    private async ValueTask<bool> BeganEarlyAsync(BreakerMemory memory, EmailGuardFlag probe, string probeId, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (PhaseStart(probe) - SendTimeSkew > now)
        {
            await MarkBeganEarlyAsync(memory, probe, probeId, now, cancellationToken).ConfigureAwait(false);
            return true;
        }

        return await _feedback.Mappings.GetAsync(BeganEarlyKey(memory, probeId), cancellationToken).ConfigureAwait(false) is not null;
    }

    /// <summary>Remembers in the shared store, for the rest of the phase, that the phase of <paramref name="probe"/> began early.</summary>
    private ValueTask MarkBeganEarlyAsync(BreakerMemory memory, EmailGuardFlag probe, string probeId, DateTimeOffset now, CancellationToken cancellationToken)
        => probe.ExpiresAt > now
            ? _feedback.Mappings.SetAsync(
                BeganEarlyKey(memory, probeId), "1", TimeSpan.FromSeconds(Math.Ceiling((probe.ExpiresAt - now).TotalSeconds)), cancellationToken)
            : ValueTask.CompletedTask;

    /// <summary>
    /// Called for each half-open flag an instance follows (<see cref="AdoptHalfOpen"/>): when the snapshot shows it without
    /// its trip's flag before the trip was to end, remembers that its phase began early (<see cref="BeganEarlyAsync"/>),
    /// so that the failures of mail sent since then count in the probe even when none of them came back before the
    /// trip's planned end. Once per probe per instance; in the background, never failing the snapshot's publication.
    /// </summary>
    private void NoteBeganEarly(GuardStateSnapshot snapshot, EmailGuardFlag probe, BreakerMemory memory, string probeId, DateTimeOffset now)
    {
        if (PhaseStart(probe) - SendTimeSkew <= now || FindFlag(snapshot.GetActiveFlags(probe.PartyType, probe.PartyId, now), memory.Reason) is not null
            || _markedEarly.ContainsKey(probeId))
        {
            return;
        }

        if (_markedEarly.Count >= MaxWarnedParties)
        {
            _markedEarly.Clear();
        }

        if (_markedEarly.TryAdd(probeId, 0))
        {
            Track(MarkBeganEarlyInBackgroundAsync(memory, probe, probeId, now));
        }
    }

    private async Task MarkBeganEarlyInBackgroundAsync(BreakerMemory memory, EmailGuardFlag probe, string probeId, DateTimeOffset now)
    {
        try
        {
            await MarkBeganEarlyAsync(memory, probe, probeId, now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The next snapshot tries again; a failure judged before the trip's planned end marks it too.
            _markedEarly.TryRemove(probeId, out _);
            LogBeganEarlyNotRemembered(_logger, memory.PartyType, LogValue.Of(ex));
        }
    }

    // Probes this instance remembered as begun early (NoteBeganEarly); bounded like the warned parties.
    private readonly ConcurrentDictionary<string, byte> _markedEarly = new(StringComparer.Ordinal);

    [LoggerMessage(EventId = 3110, EventName = "RatioBreakerEarlyHalfOpenNotRemembered", Level = LogLevel.Warning,
        Message = "A half-open {PartyType} whose trip was cleared before its end could not be remembered as such in the key-value store; the next state refresh tries again.")]
    private static partial void LogBeganEarlyNotRemembered(ILogger logger, EmailGuardPartyType partyType, Exception exception);

    private static string BeganEarlyKey(BreakerMemory memory, string probeId) => $"{memory.Key}:e:{probeId}";

    [LoggerMessage(EventId = 3094, EventName = "RatioBreakerFailureBeforeHalfOpen", Level = LogLevel.Debug,
        Message = "A half-open {PartyType}'s {Kind} of mail sent at {SentAt:O}, before its phase began at {PhaseStart:O}, counts in its window but not in its probe.")]
    private static partial void LogSentBeforePhase(ILogger logger, EmailGuardPartyType partyType, string kind, DateTimeOffset sentAt, DateTimeOffset phaseStart);
}
