using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// An event's <see cref="EmailFeedbackEvent.Detail"/> (what the dashboard and the logs show of a bounce): the parts the
/// provider sent, in its order, joined by spaces, and null when it sent none. Signed payloads through the real routes.
/// </summary>
public sealed class FeedbackDetailTests : IAsyncLifetime
{
    private static readonly EmailSendAttribution s_attribution = new() { TenantId = "acme", UserId = "user-42" };

    private readonly ECDsa _sendGridKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly SnsSigner _sns = new(TestApp.Start);
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGridKey.ExportSubjectPublicKeyInfo())));
        _app.Sns.Certificates[SnsSigner.DefaultCertUrl] = _sns.Pem;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _sendGridKey.Dispose();
        _sns.Dispose();
    }

    [Fact]
    public async Task MailgunFailure_DetailIsTheReasonCodeAndMessage()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _app.Time.GetUtcNow());

        (await _app.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Detail.Should().Be("bounce 550 5.1.1 The email account that you tried to reach does not exist.");
    }

    [Fact]
    public async Task MailgunEventWithoutReasonOrStatus_HasNoDetail()
    {
        JsonObject data = MailgunSigner.EventData("complained");
        data.Remove("delivery-status");
        string body = MailgunSigner.Sign(data, _app.Time.GetUtcNow());

        (await _app.PostAsync("mailgun", MailgunSigner.Json(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Detail.Should().BeNull();
    }

    [Fact]
    public async Task SendGridBounce_DetailIsTheStatusAndReason()
    {
        string body = BouncePayloads.SendGrid(
            s_attribution, "e1", _app.Time.GetUtcNow(), "gone@example.com", "bounce", ("type", "bounce"), ("reason", "550 5.1.1 unknown recipient"), ("status", "5.1.1"));

        (await _app.SendAsync(WebhookTestApp.SignedSendGridRequest(_sendGridKey, _app.Time.GetUtcNow(), body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Detail.Should().Be("5.1.1 550 5.1.1 unknown recipient");
    }

    [Fact]
    public async Task SendGridEventWithoutStatusOrReason_HasNoDetail()
    {
        string body = BouncePayloads.SendGrid(s_attribution, "e2", _app.Time.GetUtcNow(), "reader@example.com", "spamreport");

        (await _app.SendAsync(WebhookTestApp.SignedSendGridRequest(_sendGridKey, _app.Time.GetUtcNow(), body))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Detail.Should().BeNull();
    }

    [Fact]
    public async Task SesBounce_DetailIsTheSubTypeStatusAndDiagnostic()
    {
        string payload = BouncePayloads.Ses(s_attribution, "e3", "gone@example.com", "Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown");

        (await _app.PostAsync("ses", SnsSigner.Body(_sns.Sign(SnsSigner.Notification(payload))))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Detail.Should().Be("General 5.1.1 smtp; 550 5.1.1 user unknown");
    }
}
