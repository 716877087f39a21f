namespace EmailGuard.AspNetCore;

/// <summary>The Amazon SES webhook: SES notifications delivered by an SNS HTTPS subscription.</summary>
public sealed class SesWebhookOptions
{
    /// <summary>The most <see cref="SigningCertificateUrls"/> accepted: SNS signs with one certificate per region.</summary>
    internal const int MaxSigningCertificateUrls = 100;

    /// <summary>Gets or sets whether <c>MapEmailGuardFeedback</c> maps <c>/ses</c>.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>
    /// Gets the SNS topic ARNs accepted, such as <c>arn:aws:sns:eu-west-1:123456789012:ses-feedback</c>. A message from
    /// any other topic is refused with 401, even when SNS signed it: anyone can subscribe a URL to their own topic.
    /// Required when <see cref="Enabled"/> is true.
    /// </summary>
    public IList<string> TopicArns { get; } = [];

    /// <summary>
    /// Gets or sets whether a verified <c>SubscriptionConfirmation</c> from an allowed topic is confirmed by fetching
    /// its <c>SubscribeURL</c> (only when that URL is https on an SNS host).
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ConfirmSubscriptions { get; set; } = true;

    /// <summary>
    /// Gets or sets how old (by its signed <c>Timestamp</c>, either way from now) a notification may be. An older one is
    /// stale: acknowledged (SNS retries a message with the time it signed) and not recorded, as Mailgun and SendGrid
    /// drop old signatures: deduplication by event id lasts
    /// <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, so a captured bounce or complaint replayed after that
    /// would be recorded again (an address suppressed again after an operator lifted it, a party charged twice). SNS
    /// retries an HTTPS delivery for at most an hour, so a longer age is never a real delivery. It must be shorter than
    /// <see cref="EmailFeedbackOptions.DeduplicationWindow"/>, or the app does not start. Subscription messages are
    /// not checked.
    /// </summary>
    /// <value>The default value is 2 hours.</value>
    public TimeSpan MaxMessageAge { get; set; } = TimeSpan.FromHours(2);

    /// <summary>
    /// Gets or sets whether only SNS signature version 2 (SHA256withRSA) is accepted. Version 1 signs with SHA1withRSA,
    /// whose collisions are practical; set the topic's <c>SignatureVersion</c> attribute to 2, then turn this on, and a
    /// message signed with version 1 is refused with 401 before any certificate is fetched.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: SNS topics sign with version 1 unless set otherwise.</value>
    public bool RequireSignatureVersion2 { get; set; }

    /// <summary>
    /// Gets the SNS signing certificate URLs this app expects: the <c>SigningCertURL</c> of the topics' messages, such as
    /// <c>https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-….pem</c>. A pinned certificate is fetched in the
    /// background when the app starts (a failure is logged, event 3050, and never stops the app), is never pushed out of
    /// the cache, and is fetched past the bound on fetches running at once. Without it a fresh instance (just deployed,
    /// scaled out, restarted) has verified no message yet, so a flood of messages naming fresh certificate URLs could
    /// hold every fetch slot and have the genuine messages answered 503 until SNS gave up on them. Each must be https on
    /// an SNS region's host and end in <c>.pem</c> with no query, or the app does not start; at most 100.
    /// </summary>
    /// <remarks>
    /// Pinning privileges these URLs; it does not refuse others. SNS rotates its signing certificates, and a message
    /// signed with a new one names a new URL: it is fetched and verified as without pinning (within the bound on
    /// fetches), and once it verified a message from an allowed topic it is kept as a pinned one is. Refusing every
    /// other URL would drop all feedback from the rotation on, until the configuration changed, which is the loss
    /// pinning is there to prevent. Add the new URL when SNS names it.
    /// </remarks>
    /// <value>The default value is empty.</value>
    public IList<string> SigningCertificateUrls { get; } = [];

    /// <summary>Gets or sets how many SNS signing certificates are kept in memory.</summary>
    /// <value>The default value is 16.</value>
    public int CertificateCacheSize { get; set; } = 16;

    /// <summary>
    /// Gets or sets how long a fetched signing certificate is kept; never past the certificate's own expiry. Also how long
    /// a certificate that verified a message is recorded in the shared key-value store, where a fresh instance finds it
    /// and fetches it past the bound on fetches running at once.
    /// </summary>
    /// <value>The default value is 24 hours.</value>
    public TimeSpan CertificateCacheLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Gets or sets how long fetching a signing certificate or confirming a subscription may take.</summary>
    /// <value>The default value is 10 seconds.</value>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
