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
    /// Gets or sets how far a signature's timestamp may be from now. An older signature is refused as stale; a token is
    /// remembered for this long, on each instance, so a replay inside the window is refused too.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan TimestampTolerance { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets how many tokens each instance remembers within <see cref="TimestampTolerance"/>. Only verified
    /// tokens are remembered, so only genuine Mailgun traffic fills it; when it is full, requests answer 503.
    /// </summary>
    /// <value>The default value is 100000.</value>
    public int MaxRememberedTokens { get; set; } = 100_000;
}
