using System.Net;
using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace EmailGuard.Tests.Feedback;

/// <summary>One app instance with the send guard and feedback over the in-memory store, on a fake clock.</summary>
internal sealed class FeedbackTestApp : IAsyncDisposable
{
    public FeedbackTestApp(
        Action<EmailFeedbackOptions>? feedback = null,
        Action<SendGuardOptions>? guard = null,
        Action<IServiceCollection>? more = null,
        IDictionary<string, string?>? configuration = null)
    {
        Services = SendGuardTestServices.Build(
            o =>
            {
                // A long refresh interval: suppression must reach this instance's next check without any refresh.
                o.StateRefreshInterval = TimeSpan.FromHours(1);
                guard?.Invoke(o);
            },
            configuration,
            s =>
            {
                if (feedback is not null)
                {
                    s.Configure(feedback);
                }

                more?.Invoke(s);
            },
            Time,
            Logs);
    }

    public FakeTimeProvider Time { get; } = new(SendGuardTestServices.Start);

    public FakeLogCollector Logs { get; } = new();

    public ServiceProvider Services { get; }

    public IEmailGuardFeedback Feedback => Services.GetRequiredService<IEmailGuardFeedback>();

    public IEmailFeedbackCounts Counts => Services.GetRequiredService<IEmailFeedbackCounts>();

    public IEmailSendGuard Guard => Services.GetRequiredService<IEmailSendGuard>();

    public IEmailGuardLists Lists => Services.GetRequiredService<IEmailGuardLists>();

    public static OutboundEmail Mail(string to, string? category = "signup") => new()
    {
        To = [to],
        Sender = "NoReply@App.Example",
        TenantId = "acme",
        UserId = "user-42",
        Category = category,
        ClientIp = IPAddress.Parse("203.0.113.7"),
    };

    public static EmailFeedbackEvent Event(
        string id,
        EmailFeedbackKind kind = EmailFeedbackKind.Bounced,
        EmailBounceType bounce = EmailBounceType.Permanent,
        string recipient = "victim@example.com",
        EmailSendAttribution? attribution = null,
        string? messageId = null,
        string provider = "ses",
        string? category = null) => new()
        {
            Provider = provider,
            ProviderEventId = id,
            ProviderMessageId = messageId,
            Recipient = recipient,
            Kind = kind,
            BounceType = kind == EmailFeedbackKind.Bounced ? bounce : EmailBounceType.None,
            Timestamp = SendGuardTestServices.Start,
            Attribution = attribution,
            Category = category,
        };

    public async Task<EmailSendDecision> CheckAsync(string to, string? category = "signup") => await Guard.CheckAsync(Mail(to, category));

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
