using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EmailGuard;

/// <summary>The instruments of what happens after a send: feedback, ratio-breaker trips, content verdicts and reservations.</summary>
internal sealed partial class EmailGuardMetrics
{
    /// <summary>Records how far ahead an admitted reservation lies (zero when it may be sent now).</summary>
    public void RecordReservationWait(TimeSpan wait)
    {
        if (_reservationWait.Enabled)
        {
            _reservationWait.Record(Math.Max(0, wait.TotalSeconds));
        }
    }

    /// <summary>
    /// Counts one feedback event. <paramref name="provider"/> is validated to a short lower-case name by the caller;
    /// <paramref name="kind"/> and <paramref name="outcome"/> are constants.
    /// </summary>
    public void RecordFeedback(string provider, string kind, string outcome)
    {
        if (_feedback.Enabled)
        {
            RecordFeedbackCore(provider, kind, outcome);
        }
    }

    /// <summary>
    /// Counts one signature check of an event's tags. <paramref name="provider"/> is validated to a short lower-case name
    /// by the caller; <paramref name="outcome"/> is a constant.
    /// </summary>
    public void RecordFeedbackTags(string provider, string outcome)
    {
        if (_feedbackTags.Enabled)
        {
            TagList tags = default;
            tags.Add(ProviderTag, provider);
            tags.Add(OutcomeTag, outcome);
            _feedbackTags.Add(1, tags);
        }
    }

    /// <summary>
    /// Counts one recorded event about mail the provider never sent. <paramref name="provider"/> is validated to a short
    /// lower-case name by the caller; <paramref name="outcome"/> is a constant.
    /// </summary>
    public void RecordFeedbackNotSent(string provider, string outcome)
    {
        if (_feedbackNotSent.Enabled)
        {
            TagList tags = default;
            tags.Add(ProviderTag, provider);
            tags.Add(OutcomeTag, outcome);
            _feedbackNotSent.Add(1, tags);
        }
    }

    /// <summary>
    /// Counts one content-inspector verdict. <paramref name="verdict"/> and <paramref name="outcome"/> are constants;
    /// the inspector's own reason is never a tag (it is free text).
    /// </summary>
    public void RecordContentVerdict(string verdict, string outcome)
    {
        if (_contentVerdicts.Enabled)
        {
            TagList tags = default;
            tags.Add("emailguard.content.verdict", verdict);
            tags.Add(OutcomeTag, outcome);
            _contentVerdicts.Add(1, tags);
        }
    }

    /// <summary>Counts one ratio-breaker trip; every argument is a constant.</summary>
    public void RecordBreakerTrip(string dimension, string reason, string action)
    {
        if (_breakerTrips.Enabled)
        {
            TagList tags = default;
            tags.Add(DimensionTag, dimension);
            tags.Add("emailguard.breaker.reason", reason);
            tags.Add("emailguard.breaker.action", action);
            _breakerTrips.Add(1, tags);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordFeedbackCore(string provider, string kind, string outcome)
    {
        TagList tags = default;
        tags.Add(ProviderTag, provider);
        tags.Add(KindTag, kind);
        tags.Add(OutcomeTag, outcome);
        _feedback.Add(1, tags);
    }
}
