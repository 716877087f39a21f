namespace EmailGuard.AspNetCore;

/// <summary>The SendGrid Event Webhook, signed with ECDSA P-256 (the Signed Event Webhook).</summary>
public sealed class SendGridWebhookOptions
{
    /// <summary>Gets or sets whether <c>MapEmailGuardFeedback</c> maps <c>/sendgrid</c>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets or sets the verification key SendGrid shows for the signed Event Webhook: a base64 SubjectPublicKeyInfo
    /// of a P-256 key (a PEM <c>PUBLIC KEY</c> block is accepted too). Required when <see cref="Enabled"/> is true.
    /// </summary>
    public string? PublicKey { get; set; }

    /// <summary>
    /// Gets or sets how far the signed timestamp may be from now; an older request is stale: acknowledged, its events not recorded. Within it, a
    /// replay is caught by the event id's deduplication, so this must be shorter than
    /// <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, or the app does not start.
    /// </summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan TimestampTolerance { get; set; } = TimeSpan.FromMinutes(5);
}
