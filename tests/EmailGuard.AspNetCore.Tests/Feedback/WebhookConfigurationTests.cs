using System.Net;
using System.Security.Cryptography;
using EmailGuard.AspNetCore;
using EmailGuard.Testing.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class WebhookConfigurationTests
{
    /// <summary>A P-256 public key, as SendGrid's verification key is, for rows that enable SendGrid.</summary>
    private static readonly string SendGridPublicKey = Convert.ToBase64String(ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfo());

    [Fact]
    public async Task OnlyEnabledProviders_GetARoute()
    {
        await using WebhookTestApp app = await WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Mailgun:Enabled"] = "true",
            ["EmailGuard:Webhooks:Mailgun:SigningKey"] = WebhookTestApp.MailgunKey,
        });

        (await app.PostAsync("ses", new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await app.PostAsync("sendgrid", new StringContent("[]"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await app.PostAsync("postmark", new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await app.PostAsync("mailgun", new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task EnabledButNeverMapped_WarnsOnceTheAppHasStarted()
    {
        // The app starts and runs; only the providers would notice, with a 404 for every bounce after their retries.
        var settings = new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Mailgun:Enabled"] = "true",
            ["EmailGuard:Webhooks:Mailgun:SigningKey"] = WebhookTestApp.MailgunKey,
        };
        await using TestApp unmapped = await TestApp.StartAsync(s => s.AddEmailGuard().AddFeedbackWebhooks(), _ => { }, settings, useEmailGuard: false);
        await using WebhookTestApp mapped = await WebhookTestApp.StartAsync(settings);

        unmapped.Logs.GetSnapshot().Where(r => r.Id.Id == 2974).Should().ContainSingle()
            .Which.Message.Should().Contain("(mailgun)").And.Contain("MapEmailGuardFeedback");
        mapped.LogsWithId(2974).Should().BeEmpty();
    }

    [Theory]
    [InlineData("Mailgun", "SigningKey")]
    [InlineData("SendGrid", "PublicKey")]
    [InlineData("Postmark", "Password")]
    public async Task KeyedButNotEnabled_WarnsOnceTheAppHasStarted_NamingTheSection(string provider, string key)
    {
        // SES is on; the other provider has its key without Enabled: its route is not mapped, and its posts answer 404
        // with no word in the app (with no provider on at all, mapping the webhooks fails at startup instead).
        var ses = new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
            ["EmailGuard:Webhooks:Ses:TopicArns:0"] = WebhookTestApp.TopicArn,
        };
        await using WebhookTestApp app = await WebhookTestApp.StartAsync(new Dictionary<string, string?>(ses) { [$"EmailGuard:Webhooks:{provider}:{key}"] = "a-key" });
        await using WebhookTestApp off = await WebhookTestApp.StartAsync(ses);

        (await app.PostAsync(provider.ToLowerInvariant(), new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        app.LogsWithId(2977).Should().ContainSingle()
            .Which.Message.Should().Contain($"EmailGuard:Webhooks:{provider}").And.Contain("not enabled");
        off.LogsWithId(2977).Should().BeEmpty();
    }

    [Fact]
    public async Task ProviderEnabledInCode_GetsARoute()
    {
        await using WebhookTestApp app = await WebhookTestApp.StartAsync(
            new Dictionary<string, string?>(),
            o =>
            {
                o.Postmark.Enabled = true;
                o.Postmark.Username = "u";
                o.Postmark.Password = WebhookTestApp.PostmarkPassword;
            });

        (await app.PostAsync("postmark", new StringContent("{}"))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("Mailgun", "EmailGuard:Webhooks:Mailgun:SigningKey")]
    [InlineData("SendGrid", "EmailGuard:Webhooks:SendGrid:PublicKey")]
    [InlineData("Postmark", "EmailGuard:Webhooks:Postmark:Password")]
    [InlineData("Ses", "EmailGuard:Webhooks:Ses:TopicArns")]
    public async Task EnabledProviderWithoutItsSecret_FailsStartupNamingTheSetting(string provider, string setting)
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?> { [$"EmailGuard:Webhooks:{provider}:Enabled"] = "true" });

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain(setting);
    }

    [Fact]
    public async Task SendGridKeyThatIsNotP256_FailsStartup()
    {
        using RSA rsa = RSA.Create(2048);
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:SendGrid:Enabled"] = "true",
            ["EmailGuard:Webhooks:SendGrid:PublicKey"] = Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo()),
        });

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("EmailGuard:Webhooks:SendGrid:PublicKey");
    }

    // Each row: the settings of one bad configuration, and the exact failure the app must stop with.
    public static TheoryData<string[], string> MalformedSettings => new()
    {
        { ["EmailGuard:Webhooks:MaxBodyBytes=0"], "EmailGuard:Webhooks:MaxBodyBytes must be between 1 and 16777216; it is 0." },
        { ["EmailGuard:Webhooks:Ses:Enabled=true", "EmailGuard:Webhooks:Ses:TopicArns:0= "], "EmailGuard:Webhooks:Ses:TopicArns:0: ' ' is not an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-feedback." },
        // The allowlist compares exactly: a trailing space or a wildcard started the app and then refused every message.
        { ["EmailGuard:Webhooks:Ses:Enabled=true", $"EmailGuard:Webhooks:Ses:TopicArns:0={WebhookTestApp.TopicArn}", $"EmailGuard:Webhooks:Ses:TopicArns:1={WebhookTestApp.TopicArn} "], $"EmailGuard:Webhooks:Ses:TopicArns:1: '{WebhookTestApp.TopicArn} ' is not an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-feedback." },
        { ["EmailGuard:Webhooks:Ses:Enabled=true", "EmailGuard:Webhooks:Ses:TopicArns:0=arn:aws:sns:*:123456789012:ses-feedback"], "EmailGuard:Webhooks:Ses:TopicArns:0: 'arn:aws:sns:*:123456789012:ses-feedback' is not an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-feedback." },
        // A pinned certificate URL passes the checks a message's SigningCertURL does: it is fetched past the bound on fetches.
        { ["EmailGuard:Webhooks:Ses:SigningCertificateUrls:0=http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem"], "EmailGuard:Webhooks:Ses:SigningCertificateUrls:0: 'http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem' is not an SNS signing certificate URL: https on an SNS region's host, ending in .pem with no query, such as https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem." },
        { [$"EmailGuard:Webhooks:Ses:SigningCertificateUrls:0={SnsSigner.DefaultCertUrl}", "EmailGuard:Webhooks:Ses:SigningCertificateUrls:1=https://sns.s3-accelerate.amazonaws.com/SimpleNotificationService-0.pem"], "EmailGuard:Webhooks:Ses:SigningCertificateUrls:1: 'https://sns.s3-accelerate.amazonaws.com/SimpleNotificationService-0.pem' is not an SNS signing certificate URL: https on an SNS region's host, ending in .pem with no query, such as https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem." },
        { ["EmailGuard:Webhooks:Ses:SigningCertificateUrls:0=https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem?x=1"], "EmailGuard:Webhooks:Ses:SigningCertificateUrls:0: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0.pem?x=1' is not an SNS signing certificate URL: https on an SNS region's host, ending in .pem with no query, such as https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem." },
        { ["EmailGuard:Webhooks:Ses:CertificateCacheSize=0"], "EmailGuard:Webhooks:Ses:CertificateCacheSize must be between 1 and 1000; it is 0." },
        { ["EmailGuard:Webhooks:Ses:FetchTimeout=0s"], "EmailGuard:Webhooks:Ses:FetchTimeout must be positive; it is 00:00:00." },
        // An unbounded tolerance let a captured signed event be replayed for years, and overflowed Mailgun's token memory.
        { ["EmailGuard:Webhooks:Mailgun:TimestampTolerance=9999d"], "EmailGuard:Webhooks:Mailgun:TimestampTolerance must be positive and at most 1.00:00:00; it is 9999.00:00:00." },
        { ["EmailGuard:Webhooks:SendGrid:TimestampTolerance=30d"], "EmailGuard:Webhooks:SendGrid:TimestampTolerance must be positive and at most 1.00:00:00; it is 30.00:00:00." },
        // Blank credentials are no credentials.
        // A signature accepted for longer than the feedback remembers event ids let a captured event be recorded twice.
        { ["EmailGuard:Webhooks:SendGrid:Enabled=true", $"EmailGuard:Webhooks:SendGrid:PublicKey={SendGridPublicKey}", "EmailGuard:Webhooks:SendGrid:TimestampTolerance=2h", "EmailGuard:Feedback:DeduplicationWindow=1h"], "EmailGuard:Webhooks:SendGrid:TimestampTolerance must be shorter than EmailGuard:Feedback:DeduplicationWindow, 01:00:00; it is 02:00:00, so an event replayed after its id is forgotten would be recorded again." },
        { ["EmailGuard:Webhooks:Mailgun:Enabled=true", $"EmailGuard:Webhooks:Mailgun:SigningKey={WebhookTestApp.MailgunKey}", "EmailGuard:Feedback:DeduplicationWindow=5m"], "EmailGuard:Webhooks:Mailgun:TimestampTolerance must be shorter than EmailGuard:Feedback:DeduplicationWindow, 00:05:00; it is 00:05:00, so an event replayed after its id is forgotten would be recorded again." },
        { ["EmailGuard:Webhooks:Ses:Enabled=true", $"EmailGuard:Webhooks:Ses:TopicArns:0={WebhookTestApp.TopicArn}", "EmailGuard:Feedback:DeduplicationWindow=1h"], "EmailGuard:Webhooks:Ses:MaxMessageAge must be shorter than EmailGuard:Feedback:DeduplicationWindow, 01:00:00; it is 02:00:00, so an event replayed after its id is forgotten would be recorded again." },
        { ["EmailGuard:Webhooks:Postmark:MaxEventAge=30m"], "EmailGuard:Webhooks:Postmark:MaxEventAge must be between 01:00:00 and 2.00:00:00 (Postmark retries for about 10.5 hours; keep it below the deduplication window), not 00:30:00." },
        { ["EmailGuard:Webhooks:Postmark:Enabled=true", "EmailGuard:Webhooks:Postmark:Username=u", $"EmailGuard:Webhooks:Postmark:Password={WebhookTestApp.PostmarkPassword}", "EmailGuard:Feedback:DeduplicationWindow=12h"], "EmailGuard:Webhooks:Postmark:MaxEventAge must be shorter than EmailGuard:Feedback:DeduplicationWindow, 12:00:00; it is 1.00:00:00, so an event replayed after its id is forgotten would be recorded again." },
        { ["EmailGuard:Webhooks:Postmark:Enabled=true", "EmailGuard:Webhooks:Postmark:Username= ", $"EmailGuard:Webhooks:Postmark:Password={WebhookTestApp.PostmarkPassword}"], "EmailGuard:Webhooks:Postmark:Username is required when EmailGuard:Webhooks:Postmark:Enabled is true, and cannot contain ':'." },
        { ["EmailGuard:Webhooks:Postmark:Enabled=true", "EmailGuard:Webhooks:Postmark:Username=u", "EmailGuard:Webhooks:Postmark:Password=                "], "EmailGuard:Webhooks:Postmark:Password is required when EmailGuard:Webhooks:Postmark:Enabled is true, and must be at least 16 characters." },
    };

    [Theory]
    [MemberData(nameof(MalformedSettings))]
    public async Task Startup_MalformedSetting_FailsWithItsPathAndValue(string[] settings, string expected)
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(TestSettings.Parse(settings));

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        failure.Failures.Should().Contain(expected);
        failure.Failures.Should().AllSatisfy(f => StartupFailure.ShouldNameOneOf(f, settings));
    }

    [Fact]
    public async Task PostmarkPasswordShorterThanTheMinimum_FailsStartup()
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Postmark:Enabled"] = "true",
            ["EmailGuard:Webhooks:Postmark:Username"] = "u",
            ["EmailGuard:Webhooks:Postmark:Password"] = "short",
        });

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("EmailGuard:Webhooks:Postmark:Password");
    }

    [Theory]
    [InlineData("00:00:30")]
    [InlineData("3.00:00:00")]
    public async Task SesMaxMessageAgeOutOfRange_FailsStartupNamingTheSetting(string age)
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
            ["EmailGuard:Webhooks:Ses:TopicArns:0"] = WebhookTestApp.TopicArn,
            ["EmailGuard:Webhooks:Ses:MaxMessageAge"] = age,
        });

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("EmailGuard:Webhooks:Ses:MaxMessageAge");
    }

    [Fact]
    public async Task MisspeltKey_FailsStartupNamingTheSettingsFullPath_AndTheLikelyName()
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Mailgun:Enabled"] = "true",
            ["EmailGuard:Webhooks:Mailgun:SigingKey"] = WebhookTestApp.MailgunKey,
        });

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("EmailGuard:Webhooks:Mailgun:SigingKey: unknown setting; did you mean SigningKey?");
    }

    [Fact]
    public async Task MistakesOfEveryKind_FailStartupTogether()
    {
        // Mailgun's signing key, misspelt, is not also reported missing: the key was written, under another name.
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>
        {
            ["EmailGuard:Webhooks:Mailgun:Enabled"] = "true",
            ["EmailGuard:Webhooks:Mailgun:SigingKey"] = WebhookTestApp.MailgunKey,
            ["EmailGuard:Webhooks:Ses:CertificateCacheSize"] = "many",
            ["EmailGuard:Webhooks:MaxBodyBytes"] = "0",
        });

        OptionsValidationException failure = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        StartupFailure.ShouldBeOnePer(
            [.. failure.Failures],
            "EmailGuard:Webhooks:Mailgun:SigingKey: unknown setting; did you mean SigningKey?",
            "EmailGuard:Webhooks:Ses:CertificateCacheSize: 'many' is not a whole number",
            "EmailGuard:Webhooks:MaxBodyBytes must be between 1 and 16777216; it is 0.");
    }

    [Fact]
    public async Task NoProviderEnabled_FailsWhenMapping()
    {
        Func<Task> start = () => WebhookTestApp.StartAsync(new Dictionary<string, string?>());

        (await start.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("EmailGuard:Webhooks:Mailgun:Enabled");
    }

    [Fact]
    public void Defaults_AreDocumented()
    {
        var options = new EmailGuardWebhookOptions();

        options.MaxBodyBytes.Should().Be(1024 * 1024);
        options.Mailgun.TimestampTolerance.Should().Be(TimeSpan.FromMinutes(5));
        options.SendGrid.TimestampTolerance.Should().Be(TimeSpan.FromMinutes(5));
        options.Ses.ConfirmSubscriptions.Should().BeTrue();
        options.Ses.CertificateCacheSize.Should().Be(16);
        options.Ses.MaxMessageAge.Should().Be(TimeSpan.FromHours(2));
    }
}
