namespace EmailGuard.AspNetCore;

/// <summary>
/// The Postmark webhook. Postmark does not sign its webhooks: the URL carries basic-auth credentials
/// (<c>https://user:password@host/emailguard/feedback/postmark</c>), which this endpoint checks in constant time.
/// </summary>
public sealed class PostmarkWebhookOptions
{
    /// <summary>The shortest <see cref="Password"/> accepted.</summary>
    public const int MinPasswordLength = 16;

    /// <summary>Gets or sets whether <c>MapEmailGuardFeedback</c> maps <c>/postmark</c>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets the basic-auth user name in the webhook URL. Required when <see cref="Enabled"/> is true.</summary>
    public string? Username { get; set; }

    /// <summary>
    /// Gets or sets the basic-auth password in the webhook URL: a random secret of at least
    /// <see cref="MinPasswordLength"/> characters. Required when <see cref="Enabled"/> is true.
    /// </summary>
    public string? Password { get; set; }

    /// <summary>
    /// Gets or sets how old (by the record's own time: <c>BouncedAt</c>, <c>DeliveredAt</c>, <c>ChangedAt</c>, either
    /// way from now) a record may be. An older one is stale: acknowledged once the credentials are checked (Postmark
    /// would retry it with the same time), and not recorded. Postmark signs nothing, so this is no
    /// defence against whoever holds the credentials; it stops a record posted again after its id's deduplication
    /// (<see cref="EmailFeedbackOptions.DeduplicationWindow"/>) has lapsed (a request captured from a log or a proxy,
    /// a webhook re-sent by hand) from being recorded a second time: a party charged twice, an address suppressed again
    /// after an operator lifted it. Postmark retries a failed webhook for about 10.5 hours. It must be between 1 hour and
    /// 2 days and shorter than <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, or the app does not start. A record
    /// without a time that can be read is not checked, and is logged (warning 3045): Postmark writes one in every record.
    /// </summary>
    /// <value>The default value is 1 day.</value>
    public TimeSpan MaxEventAge { get; set; } = TimeSpan.FromDays(1);
}
