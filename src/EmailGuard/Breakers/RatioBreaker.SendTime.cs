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
    private bool SentBeforePhase(DateTimeOffset? sentAt, EmailGuardFlag probe, EmailGuardPartyType partyType, bool complaint)
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

        LogSentBeforePhase(_logger, partyType, complaint ? "complaint" : "bounce", sent, start);
        return true;
    }

    [LoggerMessage(EventId = 3094, EventName = "RatioBreakerFailureBeforeHalfOpen", Level = LogLevel.Debug,
        Message = "A half-open {PartyType}'s {Kind} of mail sent at {SentAt:O}, before its phase began at {PhaseStart:O}, counts in its window but not in its probe.")]
    private static partial void LogSentBeforePhase(ILogger logger, EmailGuardPartyType partyType, string kind, DateTimeOffset sentAt, DateTimeOffset phaseStart);
}
