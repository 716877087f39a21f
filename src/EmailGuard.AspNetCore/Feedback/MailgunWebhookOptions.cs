namespace EmailGuard.AspNetCore;

/// <summary>The Mailgun webhook: JSON events signed with HMAC-SHA256 over timestamp and token.</summary>
public sealed class MailgunWebhookOptions
{
    /// <summary>Gets or sets whether <c>MapEmailGuardFeedback</c> maps <c>/mailgun</c>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the HTTP webhook signing key (Mailgun's Sending, Webhooks page). A secret: keep it in a secret
    /// store or an environment variable, never in appsettings.json. Required when <see cref="Enabled"/> is true.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>
    /// Gets or sets how far a signature's timestamp may be from now. An older signature is stale: acknowledged, its event not recorded; a token is
    /// remembered for twice this long in the key-value store, so the same token with another body is refused; the same
    /// token and body (Mailgun's own retry) is caught by the event id's deduplication, so this must be shorter than
    /// <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, or the app does not start.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan TimestampTolerance { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets nothing any more: seen tokens are remembered in the key-value store only
    /// (<see cref="IEmailGuardKeyValueStore"/>, shared by every instance on Redis; in memory, a pool of a tenth of
    /// <c>EmailGuard:Feedback:MaxInMemoryMappings</c>, at least 1,000). Kept so that configuration which sets it still binds.
    /// </summary>
    /// <value>The default value is 100000; it has no effect.</value>
    [Obsolete("Mailgun tokens are remembered in the key-value store only; this setting has no effect.")]
    public int MaxRememberedTokens { get; set; } = 100_000;
}
