using System.Collections.Concurrent;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>An <see cref="IEmailGuardFeedback"/> that records every call and answers what the test says.</summary>
internal sealed class RecordingFeedback : IEmailGuardFeedback
{
    private readonly ConcurrentQueue<EmailFeedbackEvent> _calls = new();

    public IReadOnlyList<EmailFeedbackEvent> Calls => [.. _calls];

    /// <summary>What <see cref="RecordAsync"/> answers; recorded by default.</summary>
    public Func<EmailFeedbackEvent, EmailFeedbackOutcome> Outcome { get; set; } = _ => EmailFeedbackOutcome.Recorded;

    public ValueTask<EmailFeedbackResult> RecordAsync(EmailFeedbackEvent feedback, CancellationToken cancellationToken = default)
    {
        _calls.Enqueue(feedback);
        return ValueTask.FromResult(new EmailFeedbackResult { Outcome = Outcome(feedback), Attribution = feedback.Echoed() });
    }

    public ValueTask TrackAsync(string providerMessageId, EmailSendAttribution attribution, CancellationToken cancellationToken = default) => default;
}
