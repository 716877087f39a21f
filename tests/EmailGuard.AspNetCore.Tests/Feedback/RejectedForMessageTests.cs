using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// A bounce that refuses the message (its content, an attachment, its size, a spam filter, the sender's DMARC policy)
/// says nothing of the mailbox. Before, a rogue tenant's three spammy mails to another tenant's customer in a week were
/// three soft bounces of the address, which suppressed it for 30 days for every tenant (a SendGrid bounce classified
/// Content for good). Each provider's real payload, signed, through the real routes, into EmailGuard's own feedback.
/// </summary>
public sealed class RejectedForMessageTests : IAsyncLifetime
{
    private const int Rejections = 4;
    private const string Victim = "victim@example.com";
    private static readonly EmailSendAttribution s_rogue = new() { TenantId = "rogue", UserId = "spammer", Category = "share" };

    private readonly ECDsa _sendGridKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly SnsSigner _sns = new(TestApp.Start);
    private WebhookTestApp _app = null!;
    private int _events;

    public async Task InitializeAsync()
    {
        _app = await WebhookTestApp.StartAsync(
            WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGridKey.ExportSubjectPublicKeyInfo())),
            realFeedback: true);
        _app.Sns.Certificates[SnsSigner.DefaultCertUrl] = _sns.Pem;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _sendGridKey.Dispose();
        _sns.Dispose();
    }

    [Theory]
    [InlineData("ses", "ContentRejected")]
    [InlineData("ses", "AttachmentRejected")]
    [InlineData("ses", "MessageTooLarge")]
    [InlineData("mailgun", "espblock")]
    [InlineData("sendgrid", "blocked")]
    [InlineData("sendgrid", "Content")]
    [InlineData("sendgrid", "Reputation")]
    [InlineData("postmark", "Blocked")]
    [InlineData("postmark", "DMARCPolicy")]
    [InlineData("postmark", "SpamNotification")]
    [InlineData("postmark", "VirusNotification")]
    public async Task RejectionsOfARogueTenantsMessages_DoNotSuppressTheRecipient_ButCountAgainstTheTenant(string provider, string rejection)
    {
        IServiceProvider services = _app.App.App.Services;

        for (int i = 0; i < Rejections; i++)
        {
            using HttpResponseMessage response = await PostAsync(provider, rejection, Victim);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        (await services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Victim))
            .Should().BeNull("the provider refused the rogue tenant's message, not the mailbox");
        (await services.GetRequiredService<IEmailSendGuard>().CheckAsync(new OutboundEmail { To = [Victim], TenantId = "good", Category = "invoice" }))
            .IsAllowed.Should().BeTrue("a good tenant still reaches its customer");
        EmailFeedbackCounts counts = await services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        (counts.Bounces, counts.TransientBounces).Should().Be((Rejections, 0), "every rejection counts against the tenant that sent the mail, as a bounce");
        _app.LogsWithId(3024).Should().HaveCount(Rejections);
    }

    [Fact]
    public async Task MailgunRetryingARefusedMessage_EveryAttemptsEvent_CountsOneBounce()
    {
        // Mailgun retries a message refused "temporarily" (espblock) for hours and posts a failed event, with an id of
        // its own, for every attempt: one refused message counted as one bounce per attempt.
        IServiceProvider services = _app.App.App.Services;

        for (int attempt = 1; attempt <= Rejections; attempt++)
        {
            using HttpResponseMessage response = await _app.PostAsync("mailgun", MailgunSigner.Json(MailgunSigner.Sign(
                MailgunFailure(Victim, "espblock", messageId: "20260302000000.7.ROGUE@mg.example.com", attempt: attempt), _app.Time.GetUtcNow())));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using (HttpResponseMessage another = await PostAsync("mailgun", "espblock", Victim))
        {
            another.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        EmailFeedbackCounts counts = await services.GetRequiredService<IEmailFeedbackCounts>().GetAsync(EmailGuardDimension.Tenant, "rogue");
        counts.Bounces.Should().Be(2, "the retried message is one bounce, the other message a second");
        _app.LogsWithId(3024).Should().HaveCount(2);
    }

    [Theory]
    [InlineData("ses", "MailboxFull")]
    [InlineData("mailgun", "generic")]
    [InlineData("sendgrid", "Invalid Address")]
    [InlineData("postmark", "SoftBounce")]
    public async Task BouncesOfTheAddress_StillSuppressIt(string provider, string bounce)
    {
        for (int i = 0; i < Rejections; i++)
        {
            using HttpResponseMessage response = await PostAsync(provider, bounce, Victim);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        (await _app.App.App.Services.GetRequiredService<IEmailGuardLists>().FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, Victim))
            .Should().NotBeNull();
        _app.LogsWithId(3024).Should().BeEmpty();
    }

    private Task<HttpResponseMessage> PostAsync(string provider, string kind, string recipient) => provider switch
    {
        "ses" => _app.PostAsync("ses", SnsSigner.Body(_sns.Sign(SnsSigner.Notification(SesBounce(recipient, kind))))),
        "mailgun" => _app.PostAsync("mailgun", MailgunSigner.Json(MailgunSigner.Sign(MailgunFailure(recipient, kind), _app.Time.GetUtcNow()))),
        "sendgrid" => _app.SendAsync(SendGridRequest(SendGridBounce(recipient, kind))),
        _ => _app.SendAsync(WebhookTestApp.PostmarkRequest(PostmarkBounce(recipient, kind))),
    };

    private string NextId() => "e" + (++_events).ToString(CultureInfo.InvariantCulture);

    /// <summary>A configuration-set bounce with the rogue tenant's message tags; SES files content refusals under Transient.</summary>
    private string SesBounce(string recipient, string subType)
    {
        (string status, string diagnostic) = subType switch
        {
            "ContentRejected" => ("5.7.1", "smtp; 554 5.7.1 Message rejected due to content restrictions"),
            "AttachmentRejected" => ("5.7.1", "smtp; 552 5.7.0 This message was blocked because its content presents a potential security issue"),
            "MessageTooLarge" => ("5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit"),
            _ => ("4.2.2", "smtp; 452 4.2.2 The email account that you tried to reach is over quota"),
        };
        return BouncePayloads.Ses(s_rogue, NextId(), recipient, "Transient", subType, status, diagnostic);
    }

    /// <summary>A temporary failure: Mailgun's reason <c>espblock</c> when the recipient's service blocked the message.</summary>
    private JsonObject MailgunFailure(string recipient, string reason, string? messageId = null, int attempt = 1)
    {
        string id = NextId();
        JsonObject data = MailgunSigner.EventData("failed", recipient, severity: "temporary", userVariables: EmailFeedbackTags.Write(s_rogue), id: id);
        data["message"]!["headers"]!["message-id"] = messageId ?? $"rogue.{id}@mg.example.com";
        data["reason"] = reason;
        data["delivery-status"] = reason == "espblock"
            ? new JsonObject { ["code"] = 554, ["attempt-no"] = attempt, ["message"] = "5.7.1 [CS01] Message rejected due to local policy", ["description"] = string.Empty }
            : new JsonObject { ["code"] = 452, ["attempt-no"] = 1, ["message"] = "4.2.2 Mailbox full", ["description"] = string.Empty };
        return data;
    }

    /// <summary>
    /// A bounce event: <c>blocked</c> is a block (type <c>blocked</c>, classified Content); otherwise a bounce of type
    /// <c>bounce</c> with that <c>bounce_classification</c>.
    /// </summary>
    private string SendGridBounce(string recipient, string kind)
    {
        (string type, string classification, string status, string reason) = kind switch
        {
            "blocked" => ("blocked", "Content", "5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering"),
            "Content" => ("bounce", "Content", "5.7.1", "554 5.7.1 Message rejected because it contains spam content"),
            "Reputation" => ("bounce", "Reputation", "5.7.1", "550 5.7.1 Service unavailable; client host blocked using Spamhaus"),
            _ => ("bounce", kind, "5.1.1", "550 5.1.1 The email account that you tried to reach does not exist"),
        };
        string id = NextId();
        return BouncePayloads.SendGrid(
            s_rogue, id, _app.Time.GetUtcNow(), recipient, "bounce", ("type", type), ("bounce_classification", classification), ("status", status), ("reason", reason),
            ("sg_message_id", $"rogue{id}.filter0001.16648.5515E0B88.0"));
    }

    private HttpRequestMessage SendGridRequest(string body) => WebhookTestApp.SignedSendGridRequest(_sendGridKey, _app.Time.GetUtcNow(), body);

    /// <summary>A bounce record of Postmark's shape, with its <c>TypeCode</c> and description.</summary>
    private string PostmarkBounce(string recipient, string type)
    {
        (int code, string description) = type switch
        {
            "Blocked" => (100006, "The ISP has blocked this message. This can happen due to content or blacklisting."),
            "DMARCPolicy" => (100009, "Email rejected due to the DMARC policy of the sending domain."),
            "SpamNotification" => (512, "The message was delivered, but was either blocked by the user, or classified as spam, bulk mail, or had rejected content."),
            "VirusNotification" => (8192, "The bounce is actually a virus notification warning about a virus/code infected message."),
            _ => (4096, "The server could not temporarily deliver your message (ex: Message is delayed due to network troubles)."),
        };
        return $$"""
            {
              "RecordType": "Bounce",
              "MessageStream": "outbound",
              "ID": {{4323372036854775000L + ++_events}},
              "Type": "{{type}}",
              "TypeCode": {{code}},
              "Name": "{{type}}",
              "Tag": "share",
              "MessageID": "883953f4-6105-42a2-a16a-{{_events:D12}}",
              "Metadata": {{JsonSerializer.Serialize(EmailFeedbackTags.ToPostmarkMetadata(EmailFeedbackTags.Write(s_rogue)))}},
              "ServerID": 23,
              "Description": "{{description}}",
              "Details": "smtp;550 5.7.1 rejected",
              "Email": "{{recipient}}",
              "From": "noreply@app.example",
              "BouncedAt": "2026-03-02T00:00:10Z",
              "DumpAvailable": false,
              "Inactive": false,
              "CanActivate": true,
              "Subject": "Purchase order"
            }
            """;
    }
}
