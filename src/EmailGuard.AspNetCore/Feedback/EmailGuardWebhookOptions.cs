namespace EmailGuard.AspNetCore;

/// <summary>
/// The provider webhooks that <c>app.MapEmailGuardFeedback(...)</c> maps, with their secrets. Binds from the
/// <c>EmailGuard:Webhooks</c> configuration section; only the providers whose <c>Enabled</c> is true get a route, and
/// each of those must have its secret, or the app fails to start with the setting's path.
/// </summary>
public sealed class EmailGuardWebhookOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string ConfigurationSectionName = "EmailGuard:Webhooks";

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that fetches SNS signing certificates
    /// and confirms SNS subscriptions. Configure it to add a proxy; its requests only ever go to SNS hosts.
    /// </summary>
    public const string SnsHttpClientName = "EmailGuard.Webhooks.Sns";

    /// <summary>The largest <see cref="MaxBodyBytes"/> accepted: 16 MiB.</summary>
    public const int MaxBodyBytesLimit = 16 * 1024 * 1024;

    /// <summary>
    /// Gets or sets the largest webhook body read; a larger body is answered 413 before it is parsed or its
    /// signature checked. SendGrid batches events up to about 768 KiB.
    /// </summary>
    /// <value>The default value is 1048576 (1 MiB).</value>
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Gets the Amazon SES (through SNS) webhook's settings, bound from <c>EmailGuard:Webhooks:Ses</c>.</summary>
    public SesWebhookOptions Ses { get; } = new();

    /// <summary>Gets the Mailgun webhook's settings, bound from <c>EmailGuard:Webhooks:Mailgun</c>.</summary>
    public MailgunWebhookOptions Mailgun { get; } = new();

    /// <summary>Gets the SendGrid Event Webhook's settings, bound from <c>EmailGuard:Webhooks:SendGrid</c>.</summary>
    public SendGridWebhookOptions SendGrid { get; } = new();

    /// <summary>Gets the Postmark webhook's settings, bound from <c>EmailGuard:Webhooks:Postmark</c>.</summary>
    public PostmarkWebhookOptions Postmark { get; } = new();
}
