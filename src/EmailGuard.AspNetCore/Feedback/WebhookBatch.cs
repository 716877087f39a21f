namespace EmailGuard.AspNetCore;

/// <summary>
/// What a verified webhook request holds: the events to record, one per recipient, and the provider event types that
/// were acknowledged without recording (opens, clicks, sends and types this version does not know).
/// </summary>
internal sealed class WebhookBatch
{
    public List<EmailFeedbackEvent> Events { get; } = [];

    public List<string> Ignored { get; } = [];

    /// <summary>
    /// Why events of the request that EmailGuard would record were left out (a SendGrid event whose own fields a custom
    /// arg repeats): acknowledged with the rest, because the provider's retry would carry the same.
    /// </summary>
    public List<string> Skipped { get; } = [];

    /// <summary>Runs after every event was recorded (or there were none), e.g. to confirm an SNS subscription.</summary>
    public Func<CancellationToken, ValueTask<WebhookRejection?>>? AfterRecording { get; set; }
}
