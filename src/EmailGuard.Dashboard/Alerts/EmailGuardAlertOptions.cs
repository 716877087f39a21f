using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Dashboard;

/// <summary>
/// Where alerts go and how often; bound from the <c>EmailGuard:Alerts</c> configuration section and validated at startup.
/// </summary>
public sealed class EmailGuardAlertOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string ConfigurationSectionName = EmailGuardServiceCollectionExtensions.ConfigurationSectionName + ":" + SectionKey;

    /// <summary>The section's key below <c>EmailGuard</c>.</summary>
    internal const string SectionKey = "Alerts";

    /// <summary>Gets or sets the Slack incoming webhook URL; https, or http only to a loopback address.</summary>
    /// <value>The default value is <see langword="null"/>: no Slack alerts.</value>
    public string? SlackWebhookUrl { get; set; }

    /// <summary>Gets or sets the URL of a generic JSON webhook, signed with <see cref="WebhookSecret"/>; https, or http only to a loopback address.</summary>
    /// <value>The default value is <see langword="null"/>: no webhook alerts.</value>
    public string? WebhookUrl { get; set; }

    /// <summary>
    /// Gets or sets the shared secret the webhook's body is signed with (HMAC-SHA256, see
    /// <see cref="EmailGuardWebhookSignature"/>); at least 16 characters, required with <see cref="WebhookUrl"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? WebhookSecret { get; set; }

    /// <summary>
    /// Gets or sets the dashboard's address as an operator opens it, mount path included (e.g.
    /// <c>https://admin.example.com/emailguard</c>): an absolute http or https URL without user information, query or
    /// fragment. When set, Slack and webhook alerts carry a link to the dashboard, to the party's page where the dashboard
    /// has one (a flagged or suspended user or tenant on the flags page), else to the page the alert's text names.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: alerts carry no link.</value>
    public string? DashboardUrl { get; set; }

    /// <summary>Gets or sets a name for this application in every alert, e.g. <c>billing-prod</c>.</summary>
    /// <value>The default value is <see langword="null"/>: the host's application name.</value>
    public string? Source { get; set; }

    /// <summary>Gets or sets the period within which at most one alert per condition goes out.</summary>
    /// <value>The default value is 15 minutes.</value>
    public TimeSpan Period { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The default of <see cref="MaxConditionsPerKind"/>.</summary>
    public const int DefaultMaxConditionsPerKind = 10;

    /// <summary>
    /// Gets or sets how many new conditions of one kind and severity (each banned network, each flagged user) alert on
    /// their own within <see cref="Period"/>; further ones are counted in one roll-up alert of the kind
    /// (<c>&lt;kind&gt;:*:&lt;severity&gt;</c>) and its summary, so that parties an attacker controls cannot page the
    /// operator once each or fill the delivery queue. From 1 to 1,000.
    /// </summary>
    /// <value>The default value is 10.</value>
    public int MaxConditionsPerKind { get; set; } = DefaultMaxConditionsPerKind;

    /// <summary>Gets or sets how many limit denials of one dimension within <see cref="SpikeWindow"/> make a spike.</summary>
    /// <value>The default value is 100.</value>
    public int SpikeThreshold { get; set; } = 100;

    /// <summary>Gets or sets the window limit denials are counted in for <see cref="SpikeThreshold"/>.</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan SpikeWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many alerts may wait for delivery; more are dropped and counted.</summary>
    /// <value>The default value is 1,000.</value>
    public int QueueCapacity { get; set; } = 1_000;

    /// <summary>Gets or sets how many times one delivery is tried before it is given up.</summary>
    /// <value>The default value is 5.</value>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Gets or sets the delay before the first retry; it doubles with each further retry.</summary>
    /// <value>The default value is 2 seconds.</value>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets or sets how long one delivery attempt may take.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
