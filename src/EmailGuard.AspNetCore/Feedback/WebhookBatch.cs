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
    /// Why events of the request that EmailGuard would record were left out (a SendGrid drop whose reason or address a
    /// custom arg repeats): acknowledged with the rest, because the provider's retry would carry the same.
    /// </summary>
    public List<string> Skipped { get; } = [];

    /// <summary>
    /// What was made of events recorded although a custom arg repeats one of their fields (SendGrid): how they are
    /// identified and charged, and whether their recipient is uncertain.
    /// </summary>
    public List<string> Tampered { get; } = [];

    /// <summary>
    /// Events recorded although they carry no time the age limit can check (a Postmark record without a readable
    /// <c>BouncedAt</c>, <c>DeliveredAt</c> or <c>ChangedAt</c>): which, for the log.
    /// </summary>
    public List<string> Undated { get; } = [];

    /// <summary>
    /// Why events of the request were not recorded for their age, when that happened: authentic (signed, or behind the
    /// credentials) but older than the provider's limit. They are acknowledged with the rest: the provider's retry would
    /// carry the same time, so an error answer would only have it retry for hours what can never be recorded.
    /// </summary>
    public string? Stale { get; private set; }

    /// <summary>How many events were left out for their age.</summary>
    public int StaleEvents { get; private set; }

    /// <summary>Leaves out every event read so far for its age: a request whose signed time is out of bounds.</summary>
    public WebhookBatch DropAsStale(string detail)
    {
        StaleEvents += Events.Count;
        Events.Clear();
        Stale ??= detail;
        return this;
    }

    /// <summary>Leaves out the event at <paramref name="index"/> for its own age.</summary>
    public void DropAsStale(int index, string detail)
    {
        Events.RemoveAt(index);
        StaleEvents++;
        Stale ??= detail;
    }

    /// <summary>Runs after every event was recorded (or there were none), e.g. to confirm an SNS subscription.</summary>
    public Func<CancellationToken, ValueTask<WebhookRejection?>>? AfterRecording { get; set; }
}
