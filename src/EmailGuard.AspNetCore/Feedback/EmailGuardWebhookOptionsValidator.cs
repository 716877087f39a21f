using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore;

/// <summary>
/// Checks the webhook options at startup, naming each setting by its full path: an enabled provider must have its
/// secret, limits must be in range, and no enabled provider may accept a signed event for longer than the feedback's
/// deduplication remembers its id.
/// </summary>
internal sealed partial class EmailGuardWebhookOptionsValidator(IOptionsMonitor<EmailFeedbackOptions> feedback)
    : IValidateOptions<EmailGuardWebhookOptions>
{
    private static readonly TimeSpan MaxTimestampTolerance = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, EmailGuardWebhookOptions options)
    {
        const string root = EmailGuardWebhookOptions.ConfigurationSectionName;
        List<string> failures = [];
        if (options.MaxBodyBytes is < 1 or > EmailGuardWebhookOptions.MaxBodyBytesLimit)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:MaxBodyBytes must be between 1 and {EmailGuardWebhookOptions.MaxBodyBytesLimit}; it is {options.MaxBodyBytes}."));
        }

        SesWebhookOptions ses = options.Ses;
        if (ses.Enabled)
        {
            if (ses.TopicArns.Count == 0)
            {
                failures.Add($"{root}:Ses:TopicArns must list the SNS topic ARNs to accept when {root}:Ses:Enabled is true.");
            }

            for (int i = 0; i < ses.TopicArns.Count; i++)
            {
                // The whole shape, not a prefix: the allowlist compares ARNs exactly, so a stray space or a wildcard (a
                // value pasted from a policy) started the app and then refused every message of the topic with 401.
                if (ses.TopicArns[i] is not { } arn || !TopicArn().IsMatch(arn))
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Ses:TopicArns:{i}: '{ses.TopicArns[i]}' is not an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-feedback."));
                }
            }
        }

        if (ses.SigningCertificateUrls.Count > SesWebhookOptions.MaxSigningCertificateUrls)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Ses:SigningCertificateUrls must list at most {SesWebhookOptions.MaxSigningCertificateUrls} URLs (SNS signs with one certificate per region); it lists {ses.SigningCertificateUrls.Count}."));
        }

        for (int i = 0; i < ses.SigningCertificateUrls.Count; i++)
        {
            // The same check as a message's SigningCertURL: a pinned URL is fetched past the bound on fetches, so one that
            // a message could not name would be a fetch no message could justify, and one that never matches a message.
            if (!SnsHosts.IsTrusted(ses.SigningCertificateUrls[i], requirePem: true, out _))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Ses:SigningCertificateUrls:{i}: '{ses.SigningCertificateUrls[i]}' is not an SNS signing certificate URL: https on an SNS region's host, ending in .pem with no query, such as https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem."));
            }
        }

        Positive(failures, $"{root}:Ses:CertificateCacheLifetime", ses.CertificateCacheLifetime);
        Positive(failures, $"{root}:Ses:FetchTimeout", ses.FetchTimeout);
        if (ses.MaxMessageAge < TimeSpan.FromMinutes(1) || ses.MaxMessageAge > TimeSpan.FromDays(2))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Ses:MaxMessageAge must be between 00:01:00 and 2.00:00:00 (SNS retries for at most an hour; keep it below the deduplication window), not {ses.MaxMessageAge}."));
        }
        if (ses.CertificateCacheSize is < 1 or > 1000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Ses:CertificateCacheSize must be between 1 and 1000; it is {ses.CertificateCacheSize}."));
        }

        MailgunWebhookOptions mailgun = options.Mailgun;
        if (mailgun.Enabled && string.IsNullOrWhiteSpace(mailgun.SigningKey))
        {
            failures.Add($"{root}:Mailgun:SigningKey is required when {root}:Mailgun:Enabled is true (Mailgun: Sending, Webhooks, HTTP webhook signing key).");
        }

        Tolerance(failures, $"{root}:Mailgun:TimestampTolerance", mailgun.TimestampTolerance);

        SendGridWebhookOptions sendGrid = options.SendGrid;
        if (sendGrid.Enabled)
        {
            if (string.IsNullOrWhiteSpace(sendGrid.PublicKey))
            {
                failures.Add($"{root}:SendGrid:PublicKey is required when {root}:SendGrid:Enabled is true (the Signed Event Webhook's verification key).");
            }
            else if (SendGridWebhookProvider.ReadPublicKey(sendGrid.PublicKey) is null)
            {
                failures.Add($"{root}:SendGrid:PublicKey is not a base64 SubjectPublicKeyInfo of a P-256 public key.");
            }
        }

        Tolerance(failures, $"{root}:SendGrid:TimestampTolerance", sendGrid.TimestampTolerance);

        PostmarkWebhookOptions postmark = options.Postmark;
        if (postmark.Enabled)
        {
            // Whitespace is no credential: a variable set to spaces would otherwise pass as a user name and a password.
            if (string.IsNullOrWhiteSpace(postmark.Username) || postmark.Username.Contains(':', StringComparison.Ordinal))
            {
                failures.Add($"{root}:Postmark:Username is required when {root}:Postmark:Enabled is true, and cannot contain ':'.");
            }

            if (string.IsNullOrWhiteSpace(postmark.Password) || postmark.Password.Length < PostmarkWebhookOptions.MinPasswordLength)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Postmark:Password is required when {root}:Postmark:Enabled is true, and must be at least {PostmarkWebhookOptions.MinPasswordLength} characters."));
            }
        }

        if (postmark.MaxEventAge < TimeSpan.FromHours(1) || postmark.MaxEventAge > TimeSpan.FromDays(2))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{root}:Postmark:MaxEventAge must be between 01:00:00 and 2.00:00:00 (Postmark retries for about 10.5 hours; keep it below the deduplication window), not {postmark.MaxEventAge}."));
        }

        ReplayWindows(failures, options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// A replayed event is left unrecorded by its signature's age, and within that age by the deduplication of its event id
    /// (Mailgun lets the same token and body through again, as its own retry). An age limit as long as the
    /// deduplication window or longer leaves a gap where a captured bounce or complaint is recorded a second time:
    /// a party charged twice, an address suppressed again after an operator lifted it.
    /// </summary>
    private void ReplayWindows(List<string> failures, EmailGuardWebhookOptions options)
    {
        TimeSpan deduplication;
        try
        {
            deduplication = feedback.CurrentValue.DeduplicationWindow;
        }
        catch (OptionsValidationException)
        {
            // The feedback options fail on their own, with their own message.
            return;
        }

        const string root = EmailGuardWebhookOptions.ConfigurationSectionName;
        foreach ((bool enabled, string setting, TimeSpan window) in new[]
        {
            (options.Ses.Enabled, $"{root}:Ses:MaxMessageAge", options.Ses.MaxMessageAge),
            (options.Mailgun.Enabled, $"{root}:Mailgun:TimestampTolerance", options.Mailgun.TimestampTolerance),
            (options.SendGrid.Enabled, $"{root}:SendGrid:TimestampTolerance", options.SendGrid.TimestampTolerance),
            (options.Postmark.Enabled, $"{root}:Postmark:MaxEventAge", options.Postmark.MaxEventAge),
        })
        {
            if (enabled && window > TimeSpan.Zero && window >= deduplication)
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{setting} must be shorter than {EmailFeedbackOptions.ConfigurationSectionName}:DeduplicationWindow, {deduplication}; it is {window}, so an event replayed after its id is forgotten would be recorded again."));
            }
        }
    }

    /// <summary>An SNS topic ARN: partition, region, 12-digit account, and a topic name of 1 to 256 letters, digits, '-' or '_' (FIFO topics end in .fifo).</summary>
    [GeneratedRegex(@"\Aarn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?\z", RegexOptions.CultureInvariant)]
    private static partial Regex TopicArn();

    private static void Positive(List<string> failures, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} must be positive; it is {value}."));
        }
    }

    /// <summary>
    /// A signature's age limit. Unbounded, a signed event could be replayed for years (SendGrid keeps no seen ids), and
    /// near TimeSpan.MaxValue, Mailgun's token memory of twice the tolerance overflowed at the first webhook.
    /// </summary>
    private static void Tolerance(List<string> failures, string setting, TimeSpan value)
    {
        if (value <= TimeSpan.Zero || value > MaxTimestampTolerance)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} must be positive and at most {MaxTimestampTolerance}; it is {value}."));
        }
    }
}
