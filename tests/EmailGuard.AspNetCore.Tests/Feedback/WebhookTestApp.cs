using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using EmailGuard.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>A real app with the feedback webhooks mapped, a recording <see cref="IEmailGuardFeedback"/> and a fake SNS.</summary>
internal sealed class WebhookTestApp : IAsyncDisposable
{
    public const string Prefix = "/emailguard/feedback";
    public const string TopicArn = "arn:aws:sns:eu-west-1:123456789012:ses-feedback";
    public const string MailgunKey = "key-test-mailgun-signing-0123456789";
    public const string PostmarkUser = "postmark";
    public const string PostmarkPassword = "correct-horse-battery-staple";

    private WebhookTestApp(TestApp app, RecordingFeedback feedback, FakeSnsHost sns)
    {
        App = app;
        Feedback = feedback;
        Sns = sns;
    }

    public TestApp App { get; }

    public RecordingFeedback Feedback { get; }

    public FakeSnsHost Sns { get; }

    public FakeTimeProvider Time => App.Time;

    public FakeLogCollector Logs => App.Logs;

    public HttpClient Client => App.Client;

    /// <summary>
    /// A SendGrid event post signed as SendGrid signs one: ECDSA P-256 over the timestamp and the body, both headers set.
    /// </summary>
    /// <param name="key">The signing key.</param>
    /// <param name="at">The timestamp signed.</param>
    /// <param name="body">The body.</param>
    /// <param name="timestampHeader">A timestamp header other than the one signed, if any.</param>
    public static HttpRequestMessage SignedSendGridRequest(ECDsa key, DateTimeOffset at, string body, string? timestampHeader = null)
    {
        string timestamp = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        byte[] signature = key.SignData(Encoding.UTF8.GetBytes(timestamp + body), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        var request = new HttpRequestMessage(HttpMethod.Post, $"{Prefix}/sendgrid") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Twilio-Email-Event-Webhook-Signature", Convert.ToBase64String(signature));
        request.Headers.Add("X-Twilio-Email-Event-Webhook-Timestamp", timestampHeader ?? timestamp);
        return request;
    }

    /// <summary>A Postmark webhook post with the test credentials (HTTP basic authentication).</summary>
    /// <param name="body">The body.</param>
    public static HttpRequestMessage PostmarkRequest(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{Prefix}/postmark") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{PostmarkUser}:{PostmarkPassword}")));
        return request;
    }

    /// <summary>The configuration enabling every provider with the test secrets.</summary>
    public static Dictionary<string, string?> AllProviders(string sendGridPublicKey) => new()
    {
        ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
        ["EmailGuard:Webhooks:Ses:TopicArns:0"] = TopicArn,
        ["EmailGuard:Webhooks:Mailgun:Enabled"] = "true",
        ["EmailGuard:Webhooks:Mailgun:SigningKey"] = MailgunKey,
        ["EmailGuard:Webhooks:SendGrid:Enabled"] = "true",
        ["EmailGuard:Webhooks:SendGrid:PublicKey"] = sendGridPublicKey,
        ["EmailGuard:Webhooks:Postmark:Enabled"] = "true",
        ["EmailGuard:Webhooks:Postmark:Username"] = PostmarkUser,
        ["EmailGuard:Webhooks:Postmark:Password"] = PostmarkPassword,
        ["EmailGuard:Webhooks:MaxBodyBytes"] = "65536",
    };

    /// <param name="configuration">The app's configuration.</param>
    /// <param name="configure">Configures the webhooks in code.</param>
    /// <param name="services">Adds or replaces services.</param>
    /// <param name="realFeedback">
    /// Records through EmailGuard's own feedback, with the send guard, its blocklist and the ratio breakers, instead of the
    /// recording fake (whose <see cref="Feedback"/> then sees nothing).
    /// </param>
    /// <param name="sns">The fake SNS host, when the test must set it up before the app starts (it fetches pinned certificates then).</param>
    /// <param name="time">The app's clock, when the test must know of its timers; a fresh fake one otherwise.</param>
    public static async Task<WebhookTestApp> StartAsync(
        IDictionary<string, string?> configuration, Action<EmailGuardWebhookOptions>? configure = null, Action<IServiceCollection>? services = null, bool realFeedback = false,
        FakeSnsHost? sns = null, FakeTimeProvider? time = null)
    {
        var feedback = new RecordingFeedback();
        sns ??= new FakeSnsHost();
        TestApp app = await TestApp.StartAsync(
            s =>
            {
                if (realFeedback)
                {
                    s.AddEmailGuard().AddSendGuard().AddFeedbackWebhooks(configure);
                }
                else
                {
                    s.AddEmailGuard().AddFeedbackWebhooks(configure);
                    s.AddSingleton<IEmailGuardFeedback>(feedback);
                }

                s.AddHttpClient(EmailGuardWebhookOptions.SnsHttpClientName).ConfigurePrimaryHttpMessageHandler(() => sns);
                services?.Invoke(s);
            },
            app => app.MapEmailGuardFeedback(Prefix),
            configuration,
            useEmailGuard: false,
            time: time);
        return new WebhookTestApp(app, feedback, sns);
    }

    public Task<HttpResponseMessage> PostAsync(string provider, HttpContent content) => Client.PostAsync($"{Prefix}/{provider}", content);

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => Client.SendAsync(request);

    public IReadOnlyList<FakeLogRecord> LogsWithId(int id) => [.. Logs.GetSnapshot().Where(r => r.Id.Id == id)];

    public ValueTask DisposeAsync() => App.DisposeAsync();
}
