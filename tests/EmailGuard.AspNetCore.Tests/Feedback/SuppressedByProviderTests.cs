using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Mail the provider never sent, because the address was already on its own suppression list, comes back as a bounce
/// (SES OnAccountSuppressionList, a SendGrid drop, a Mailgun suppress-bounce, a Postmark SMTPApiError). It must not trip
/// the app's breakers, where as many real bounces do; the address is suppressed here all the same. Signed payloads, through
/// the real routes, into EmailGuard's own feedback and breakers.
/// </summary>
public sealed class SuppressedByProviderTests : IAsyncLifetime
{
    private const int Sends = 4;
    private static readonly EmailSendAttribution s_attribution = new() { TenantId = "acme", UserId = "user-42", Category = "signup" };

    private readonly ECDsa _sendGridKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly SnsSigner _sns = new(TestApp.Start);
    private readonly List<EmailRatioBreakerArguments> _trips = [];
    private WebhookTestApp _app = null!;
    private int _events;

    public async Task InitializeAsync()
    {
        _app = await WebhookTestApp.StartAsync(
            WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGridKey.ExportSubjectPublicKeyInfo())),
            services: s => s.Configure<EmailRatioBreakerOptions>(o =>
            {
                o.MinimumSends = Sends;
                o.BounceRateToReduce = 0.25;
                o.BounceRateToSuspend = 0.5;
                o.ComplaintRateToReduce = 0.25;
                o.ComplaintRateToSuspend = 0.5;
                o.NetworkBouncesToBan = 0;
                o.OnTripped = args =>
                {
                    lock (_trips)
                    {
                        _trips.Add(args);
                    }

                    return ValueTask.CompletedTask;
                };
            }),
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
    [InlineData("ses")]
    [InlineData("mailgun")]
    [InlineData("sendgrid")]
    [InlineData("postmark")]
    public async Task BouncesOfMailTheProviderNeverSent_DoNotTripTheBreakers_ButSuppressTheAddress(string provider)
    {
        IServiceProvider services = _app.App.App.Services;
        using var feedback = new MetricCollector<long>(services.GetRequiredService<IMeterFactory>(), EmailGuardDiagnostics.MeterName, "emailguard.feedback");
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        IEmailGuardLists lists = services.GetRequiredService<IEmailGuardLists>();
        IEmailGuardFlags flags = services.GetRequiredService<IEmailGuardFlags>();
        for (int i = 0; i < Sends; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "acme", UserId = "user-42", Category = "signup" })).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < Sends; i++)
        {
            using HttpResponseMessage response = await PostAsync(provider, $"gone{i}@example.com", suppressedByProvider: true);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        _trips.Should().BeEmpty($"{Sends} bounces on {Sends} sends, but the provider sent none of that mail");
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.Tenant, "acme")).Should().BeEmpty();
        (await flags.GetActiveFlagsAsync(EmailGuardPartyType.User, "user-42")).Should().BeEmpty();
        for (int i = 0; i < Sends; i++)
        {
            EmailGuardListEntry? entry = await lists.FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, $"gone{i}@example.com");
            entry.Should().NotBeNull("the address is known bad: it is suppressed here too").And.Subject.As<EmailGuardListEntry>().Reason.Should().Be(EmailFeedbackSuppressionReasons.HardBounce);
        }

        feedback.GetMeasurementSnapshot().Should().HaveCount(Sends).And.AllSatisfy(m =>
        {
            m.Tags["emailguard.outcome"].Should().Be("suppressed_by_provider");
            m.Tags["emailguard.feedback.kind"].Should().Be("bounced");
            m.Tags["emailguard.feedback.provider"].Should().Be(provider);
        });
        _app.LogsWithId(2984).Should().HaveCount(Sends);

        // As many bounces of mail the provider did send trip them.
        for (int i = 0; i < Sends; i++)
        {
            using HttpResponseMessage response = await PostAsync(provider, $"dead{i}@example.com", suppressedByProvider: false);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        _trips.Should().Contain(t => t.Dimension == EmailGuardDimension.Tenant && t.Reason == EmailGuardFlagReasons.HighBounceRate);
    }

    [Fact]
    public async Task SendGridDropOfASpamReporter_SuppressesTheAddress_WithoutTrippingTheComplaintBreaker()
    {
        IServiceProvider services = _app.App.App.Services;
        IEmailSendGuard guard = services.GetRequiredService<IEmailSendGuard>();
        for (int i = 0; i < Sends; i++)
        {
            (await guard.CheckAsync(new OutboundEmail { To = [$"r{i}@example.com"], TenantId = "acme", UserId = "user-42", Category = "signup" })).IsAllowed.Should().BeTrue();
        }

        for (int i = 0; i < Sends; i++)
        {
            using HttpResponseMessage response = await _app.SendAsync(SendGridRequest(SendGridEvent($"reporter{i}@example.com", "dropped", ("reason", "Spam Reporting Address"))));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        _trips.Should().BeEmpty();
        EmailGuardListEntry? entry = await services.GetRequiredService<IEmailGuardLists>()
            .FindAsync(EmailGuardListKind.Blocklist, EmailGuardPartyType.Recipient, "reporter0@example.com");
        entry!.Reason.Should().Be(EmailFeedbackSuppressionReasons.Complaint);
    }

    private Task<HttpResponseMessage> PostAsync(string provider, string recipient, bool suppressedByProvider) => provider switch
    {
        "ses" => _app.PostAsync("ses", SnsSigner.Body(_sns.Sign(SnsSigner.Notification(SesBounce(recipient, suppressedByProvider))))),
        "mailgun" => _app.PostAsync("mailgun", MailgunSigner.Json(MailgunSigner.Sign(MailgunFailure(recipient, suppressedByProvider), _app.Time.GetUtcNow()))),
        "sendgrid" => _app.SendAsync(SendGridRequest(suppressedByProvider
            ? SendGridEvent(recipient, "dropped", ("reason", "Bounced Address"))
            : SendGridEvent(recipient, "bounce", ("type", "bounce"), ("reason", "550 5.1.1 unknown recipient"), ("status", "5.1.1")))),
        _ => _app.SendAsync(WebhookTestApp.PostmarkRequest(PostmarkBounce(recipient, suppressedByProvider ? "SMTPApiError" : "HardBounce"))),
    };

    private string NextId() => "e" + (++_events).ToString(CultureInfo.InvariantCulture);

    /// <summary>A configuration-set bounce with EmailGuard's message tags; SES's text for its account-level suppression list.</summary>
    private string SesBounce(string recipient, bool suppressed) => BouncePayloads.Ses(
        s_attribution,
        NextId(),
        recipient,
        "Permanent",
        suppressed ? "OnAccountSuppressionList" : "General",
        "5.1.1",
        suppressed
            ? "Amazon SES did not send the message to this address because it is on the suppression list for your account."
            : "smtp; 550 5.1.1 user unknown");

    /// <summary>A permanent failure; for a suppressed address, Mailgun's reason and delivery status for its bounce list.</summary>
    private JsonObject MailgunFailure(string recipient, bool suppressed)
    {
        JsonObject data = MailgunSigner.EventData("failed", recipient, severity: "permanent", userVariables: EmailFeedbackTags.Write(s_attribution), id: NextId());
        if (suppressed)
        {
            data["reason"] = "suppress-bounce";
            data["delivery-status"] = new JsonObject { ["code"] = 605, ["message"] = string.Empty, ["description"] = "Not delivering to previously bounced address" };
        }

        return data;
    }

    private string SendGridEvent(string recipient, string type, params (string Key, string Value)[] fields)
        => BouncePayloads.SendGrid(s_attribution, NextId(), _app.Time.GetUtcNow(), recipient, type, fields);

    private HttpRequestMessage SendGridRequest(string body) => WebhookTestApp.SignedSendGridRequest(_sendGridKey, _app.Time.GetUtcNow(), body);

    /// <summary>A bounce record; <c>SMTPApiError</c> is what Postmark posts for SMTP mail to an address it made inactive.</summary>
    private string PostmarkBounce(string recipient, string type) => $$"""
        {
          "RecordType": "Bounce",
          "MessageStream": "outbound",
          "ID": {{4323372036854775000L + _events++}},
          "Type": "{{type}}",
          "Name": "{{type}}",
          "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
          "Metadata": {{JsonSerializer.Serialize(EmailFeedbackTags.ToPostmarkMetadata(EmailFeedbackTags.Write(s_attribution)))}},
          "ServerID": 23,
          "Details": "{{type}}",
          "Email": "{{recipient}}",
          "From": "noreply@app.example",
          "BouncedAt": "2026-03-02T00:00:10Z",
          "Inactive": true,
          "CanActivate": true,
          "Subject": "Welcome"
        }
        """;
}
