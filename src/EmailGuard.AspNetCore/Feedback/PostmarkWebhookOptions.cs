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
}
