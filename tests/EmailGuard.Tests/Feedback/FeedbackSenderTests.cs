using EmailGuard.Tests.Guard;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.Tests.Feedback;

public sealed class FeedbackSenderTests
{
    private static readonly EmailContent Content = new()
    {
        Subject = "Welcome",
        TextBody = "Hi",
        Headers = new Dictionary<string, string> { ["X-App"] = "1" },
        ProviderTags = new Dictionary<string, string> { ["campaign"] = "welcome", ["eg_t"] = "forged" },
    };

    [Fact]
    public async Task Send_TransportReturnsMessageId_AttachesTagsAndHeaderAndMapsTheId()
    {
        IdTransport transport = new(returnId: "provider-1");
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IEmailTransport>(transport).AddEmailGuard().AddGuardedEmailSender());
        IGuardedEmailSender sender = app.Services.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult sent = await sender.TrySendAsync(FeedbackTestApp.Mail("victim@example.com"), Content);
        EmailFeedbackResult feedback = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "provider-1"));

        sent.ProviderMessageId.Should().Be("provider-1");
        EmailContent given = transport.Contents.Should().ContainSingle().Subject;
        given.Headers.Should().Contain("X-App", "1").And.Contain(EmailFeedbackTags.SendIdHeader, sent.Decision.Attribution!.SendId!);
        given.ProviderTags.Should().Contain("campaign", "welcome");
        EmailFeedbackTags.TryRead(given.ProviderTags, out EmailSendAttribution? echoed).Should().BeTrue();
        echoed.Should().BeEquivalentTo(sent.Decision.Attribution, "the app cannot forge EmailGuard's own tags");
        transport.ContextDuringSend.Should().BeEquivalentTo(sent.Decision.Attribution, "the decision builds its attribution when read: an equal one each time");
        EmailSendContext.Current.Should().BeNull("the context closes with the send");
        feedback.Attribution.Should().BeEquivalentTo(sent.Decision.Attribution);
        (await app.Counts.GetAsync(EmailGuardDimension.Tenant, "acme")).Bounces.Should().Be(1);
    }

    [Fact]
    public async Task Send_TransportReportsIdThroughTheContext_MapsTheId()
    {
        IdTransport transport = new(returnId: null, contextId: "provider-2");
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IEmailTransport>(transport).AddEmailGuard().AddGuardedEmailSender());
        IGuardedEmailSender sender = app.Services.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult sent = await sender.TrySendAsync(FeedbackTestApp.Mail("victim@example.com"), Content);
        EmailFeedbackResult feedback = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", messageId: "provider-2"));

        sent.ProviderMessageId.Should().Be("provider-2");
        feedback.Attribution!.UserId.Should().Be("user-42");
    }

    [Fact]
    public async Task Send_PlainTransport_StillWorksAndMapsNothing()
    {
        PlainTransport transport = new();
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IEmailTransport>(transport).AddEmailGuard().AddGuardedEmailSender());
        IGuardedEmailSender sender = app.Services.GetRequiredService<IGuardedEmailSender>();

        GuardedSendResult sent = await sender.TrySendAsync(FeedbackTestApp.Mail("victim@example.com"), new EmailContent { Subject = "x" });

        sent.Sent.Should().BeTrue();
        sent.ProviderMessageId.Should().BeNull();
        transport.Tags.Should().ContainKey(EmailFeedbackTags.SendIdTag);
    }

    [Fact]
    public async Task Send_AttackerSetsMessageIdOfAnotherProvidersSend_EachBounceStaysWithItsOwnTenant()
    {
        // Arrange: the app sends a victim tenant's mail through SES and an attacker tenant's through Mailgun, which takes
        // the message's Message-ID as its id; the attacker's app-supplied Message-ID copies the victim's SES id (seen in
        // a mail the victim sent it).
        RoutingTransport transport = new();
        await using FeedbackTestApp app = new(more: s => s.AddSingleton<IEmailTransport>(transport).AddEmailGuard().AddGuardedEmailSender());
        IGuardedEmailSender sender = app.Services.GetRequiredService<IGuardedEmailSender>();
        GuardedSendResult victim = await sender.TrySendAsync(Mail("victim", "a@example.com"), new EmailContent { Subject = "Invoice" });
        GuardedSendResult attacker = await sender.TrySendAsync(
            Mail("attacker", "b@example.com"),
            new EmailContent { Subject = "x", Headers = new Dictionary<string, string> { ["Message-ID"] = victim.ProviderMessageId! } });

        // Act
        EmailFeedbackResult sesBounce = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: "a@example.com", messageId: victim.ProviderMessageId, provider: "ses"));
        EmailFeedbackResult mailgunBounce = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-2", recipient: "b@example.com", messageId: attacker.ProviderMessageId, provider: "mailgun"));

        // Assert
        attacker.ProviderMessageId.Should().Be(victim.ProviderMessageId, "the ids collide, or the test proves nothing");
        sesBounce.Attribution!.TenantId.Should().Be("victim", "the attacker's later send with the same id must not take the victim's bounces");
        mailgunBounce.Attribution!.TenantId.Should().Be("attacker");
    }

    [Theory]
    [InlineData("SES")]
    [InlineData("Amazon SES")]
    [InlineData("")]
    public async Task Send_TransportSetsAnInvalidProviderAfterTheSend_StaysSentAndCounted_TheIdMappedForEveryProvider(string provider)
    {
        // Arrange: a trial's transport named its provider once the provider had taken the message; the name was not a
        // valid one, the setter threw, and the guarded sender gave the permits back for a mail that was sent.
        LateProviderTransport transport = new(provider);
        await using FeedbackTestApp app = new(
            guard: o => o.Tenant.Add(RateLimitRule.PerHour(1)),
            more: s => s.AddSingleton<IEmailTransport>(transport).AddEmailGuard().AddGuardedEmailSender());
        IGuardedEmailSender sender = app.Services.GetRequiredService<IGuardedEmailSender>();

        // Act
        GuardedSendResult sent = await sender.TrySendAsync(Mail("acme", "a@example.com"), new EmailContent { Subject = "Invoice" });
        GuardedSendResult next = await sender.TrySendAsync(Mail("acme", "b@example.com"), new EmailContent { Subject = "Invoice" });
        EmailFeedbackResult bounce = await app.Feedback.RecordAsync(FeedbackTestApp.Event("evt-1", recipient: "a@example.com", messageId: "ses-id-1", provider: "ses"));

        // Assert
        (sent.Sent, sent.ProviderMessageId).Should().Be((true, "ses-id-1"));
        transport.Sent.Should().Be(2 - 1, "the second mail is over the tenant's limit of one an hour");
        (next.Sent, next.Decision.Dimension).Should().Be((false, EmailGuardDimension.Tenant), "the sent mail kept its permit");
        bounce.Attribution!.TenantId.Should().Be("acme", "the id is mapped for every provider's feedback");
        app.Logs.GetSnapshot().Should().ContainSingle(r => r.Id.Id == 2985).Which.Level.Should().Be(Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    private static OutboundEmail Mail(string tenant, string to) => new() { To = [to], Sender = "noreply@app.example", TenantId = tenant, Category = "share" };

    /// <summary>SES for every tenant but those whose mail sets a Message-ID, which go through Mailgun; it names the provider.</summary>
    private sealed class RoutingTransport : IEmailTransport
    {
        public async ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken) => await SendAndGetMessageIdAsync(envelope, content, cancellationToken);

        public ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            bool mailgun = content.Headers?.ContainsKey("Message-ID") == true;
            EmailSendContext.Current!.Provider = mailgun ? "mailgun" : "ses";
            return ValueTask.FromResult<string?>(mailgun ? content.Headers!["Message-ID"] : "0100018c5f1e2d3a-" + envelope.TenantId);
        }
    }

    /// <summary>Hands the message over, then names its provider, as a transport may.</summary>
    private sealed class LateProviderTransport(string provider) : IEmailTransport
    {
        public int Sent { get; private set; }

        public async ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken) => await SendAndGetMessageIdAsync(envelope, content, cancellationToken);

        public ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Sent++;
            EmailSendContext.Current!.Provider = provider;
            return ValueTask.FromResult<string?>("ses-id-" + Sent.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private sealed class IdTransport(string? returnId, string? contextId = null) : IEmailTransport
    {
        public List<EmailContent> Contents { get; } = [];

        public EmailSendAttribution? ContextDuringSend { get; private set; }

        public async ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken) => await SendAndGetMessageIdAsync(envelope, content, cancellationToken);

        public ValueTask<string?> SendAndGetMessageIdAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Contents.Add(content);
            ContextDuringSend = EmailSendContext.Current?.Attribution;
            if (contextId is not null)
            {
                EmailSendContext.Current!.ProviderMessageId = contextId;
            }

            return ValueTask.FromResult(returnId);
        }
    }

    private sealed class PlainTransport : IEmailTransport
    {
        public IReadOnlyDictionary<string, string>? Tags { get; private set; }

        public ValueTask SendAsync(OutboundEmail envelope, EmailContent content, CancellationToken cancellationToken)
        {
            Tags = content.ProviderTags;
            return ValueTask.CompletedTask;
        }
    }
}
