using System.Net;
using System.Security.Cryptography;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Bodies whose JSON is well formed but carries an escaped lone surrogate (<c>"\ud800"</c>): System.Text.Json parses
/// them, and then throws <see cref="InvalidOperationException"/> when the string is read. Anyone could make any
/// route answer 500 with an error log so (the signature fields are read before they are checked), and one such value
/// anywhere in a signed SendGrid batch lost every event of it. Such a value now reads as no string.
/// </summary>
public sealed class HostileJsonEscapeTests : IAsyncLifetime
{
    private const string LoneSurrogate = "\\ud800";
    private readonly ECDsa _sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(_sendGrid.ExportSubjectPublicKeyInfo())));

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _sendGrid.Dispose();
    }

    [Fact]
    public async Task Mailgun_UnsignedBodyWithALoneSurrogateToken_Answers401Not500()
    {
        string body = $$$"""{"signature":{"timestamp":"1772409600","token":"{{{LoneSurrogate}}}","signature":"00"},"event-data":{}}""";

        HttpResponseMessage response = await _app.PostAsync("mailgun", MailgunSigner.Json(body));

        // Read as no signature at all, as it is none.
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Ses_UnsignedBodyWithALoneSurrogateSignature_Answers401Not500()
    {
        string body = $$$"""{"Type":"Notification","Signature":"{{{LoneSurrogate}}}","SignatureVersion":"1","SigningCertURL":"x"}""";

        HttpResponseMessage response = await _app.PostAsync("ses", MailgunSigner.Json(body));

        // Read as no signature at all, as it is none.
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Postmark_RecordWithALoneSurrogateInAnUnusedField_IsRecorded()
    {
        string body = $$$"""{"RecordType":"Bounce","ID":42,"Type":"HardBounce","Email":"alice@example.com","Tag":"x","Metadata":{"note{{{LoneSurrogate}}}":"a"},"Description":"{{{LoneSurrogate}}}","BouncedAt":"{{{_app.Time.GetUtcNow():O}}}"}""";

        HttpResponseMessage response = await _app.SendAsync(WebhookTestApp.PostmarkRequest(body));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().ContainSingle();
    }

    [Fact]
    public async Task SendGrid_SignedBatchWithALoneSurrogateInOneEvent_RecordsTheOtherEvents()
    {
        long at = _app.Time.GetUtcNow().ToUnixTimeSeconds();
        string body = $$$"""
            [{"email":"alice@example.com","timestamp":{{{at}}},"event":"bounce","sg_event_id":"ev-1","sg_message_id":"m1.filter1","type":"bounce"},
             {"email":"bob@example.com","timestamp":{{{at}}},"event":"bounce","sg_event_id":"ev-2","sg_message_id":"m2.filter1","type":"bounce","note{{{LoneSurrogate}}}":"a","reason":"{{{LoneSurrogate}}}"}]
            """;

        HttpResponseMessage response = await _app.SendAsync(WebhookTestApp.SignedSendGridRequest(_sendGrid, _app.Time.GetUtcNow(), body));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Select(c => c.Recipient).Should().BeEquivalentTo("alice@example.com", "bob@example.com");
    }
}
