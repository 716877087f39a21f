using System.Net;
using System.Security.Cryptography;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class MailgunWebhookTests : IAsyncLifetime
{
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())));
    }

    public Task DisposeAsync() => _app.DisposeAsync().AsTask();

    private Task<HttpResponseMessage> PostAsync(string body) => _app.PostAsync("mailgun", MailgunSigner.Json(body));

    private string Signed(string @event, string? severity = null) => MailgunSigner.Sign(MailgunSigner.EventData(@event, severity: severity), _app.Time.GetUtcNow());

    [Theory]
    [InlineData("failed", "permanent", EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    [InlineData("failed", "temporary", EmailFeedbackKind.Bounced, EmailBounceType.Transient)]
    [InlineData("complained", null, EmailFeedbackKind.Complained, EmailBounceType.None)]
    [InlineData("delivered", null, EmailFeedbackKind.Delivered, EmailBounceType.None)]
    [InlineData("unsubscribed", null, EmailFeedbackKind.Unsubscribed, EmailBounceType.None)]
    public async Task SignedEvent_IsRecordedWithItsKind(string @event, string? severity, EmailFeedbackKind kind, EmailBounceType bounce)
    {
        HttpResponseMessage response = await PostAsync(Signed(@event, severity));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.Provider.Should().Be("mailgun");
        recorded.Kind.Should().Be(kind);
        recorded.BounceType.Should().Be(bounce);
        recorded.Recipient.Should().Be("alice@example.com");
        recorded.ProviderMessageId.Should().Be("20260302000000.1.ABCDEF@mg.example.com");
        recorded.ProviderEventId.Should().StartWith("G9Bn5sl1TC6nu79C8C0bwg-");
    }

    [Theory]
    [InlineData("suppress-bounce", EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    [InlineData("suppress-complaint", EmailFeedbackKind.Complained, EmailBounceType.None)]
    [InlineData("suppress-unsubscribe", EmailFeedbackKind.Unsubscribed, EmailBounceType.None)]
    [InlineData("bounce", EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    public async Task FailureOfAnAddressOnASuppressionList_IsRecordedAsSuppressedByTheProvider(string reason, EmailFeedbackKind kind, EmailBounceType bounce)
    {
        var data = MailgunSigner.EventData("failed", severity: "permanent");
        data["reason"] = reason;

        (await PostAsync(MailgunSigner.Sign(data, _app.Time.GetUtcNow()))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        (recorded.Kind, recorded.BounceType, recorded.SuppressedByProvider).Should().Be((kind, bounce, reason != "bounce"));
    }

    [Fact]
    public async Task UserVariables_CarryTheAttribution()
    {
        var attribution = new EmailSendAttribution { TenantId = "t1", UserId = "u1", Category = "share" };
        var data = MailgunSigner.EventData("failed", severity: "permanent", userVariables: EmailFeedbackTags.Write(attribution));

        (await PostAsync(MailgunSigner.Sign(data, _app.Time.GetUtcNow()))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Echoed().Should().BeEquivalentTo(attribution);
    }

    [Theory]
    [InlineData("opened")]
    [InlineData("accepted")]
    [InlineData("clicked")]
    [InlineData("something-new")]
    public async Task AuthenticEventOfAnUnusedType_IsAcknowledgedAndRecordsNothing(string @event)
    {
        (await PostAsync(Signed(@event))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1756).Should().ContainSingle();
    }

    [Fact]
    public async Task Unsigned_Answers401()
    {
        string body = MailgunSigner.With(Signed("failed", "permanent"), root => root.Remove("signature"));

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1750).Should().ContainSingle();
    }

    [Fact]
    public async Task SignedWithAnotherKey_Answers401()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _app.Time.GetUtcNow(), key: "key-someone-else");

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1751).Should().ContainSingle();
    }

    [Theory]
    [InlineData("token")]
    [InlineData("timestamp")]
    [InlineData("signature")]
    public async Task TamperedSignatureField_Answers401(string field)
    {
        string body = MailgunSigner.With(Signed("failed", "permanent"), root =>
        {
            var signature = root["signature"]!.AsObject();
            string value = signature[field]!.GetValue<string>();
            signature[field] = value[..^1] + (value[^1] == '1' ? '2' : '1');
        });

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData(-6)]
    [InlineData(6)]
    public async Task TimestampOutsideTheTolerance_IsAcknowledgedAndNotRecorded(int minutes)
    {
        // Signed, so authentic, and its retry carries the same timestamp: a 401 only had Mailgun retry for 8 hours.
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _app.Time.GetUtcNow().AddMinutes(minutes));

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().ContainSingle();
    }

    [Fact]
    public async Task TimestampOutsideTheTolerance_WithAForgedSignature_Answers401()
    {
        string body = MailgunSigner.Sign(MailgunSigner.EventData("failed", severity: "permanent"), _app.Time.GetUtcNow().AddMinutes(-6), key: "not-the-signing-key");

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().BeEmpty();
    }

    [Fact]
    public async Task SameBodyAgainUnderItsToken_IsAMailgunRetry_AcceptedWithTheSameEventId()
    {
        // The one replay memory is the key-value store's token → body hash: the same body is a retry wherever it lands
        // (recording deduplicates it by event id), as on another instance.
        string body = Signed("failed", "permanent");

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Time.Advance(TimeSpan.FromMinutes(4));
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Select(c => c.ProviderEventId).Distinct().Should().ContainSingle();
        _app.LogsWithId(1753).Should().BeEmpty();
    }

    [Fact]
    public async Task ForgedBodyUnderACapturedToken_AfterTheGenuineOneAged_Answers401()
    {
        string token = new('c', 50);
        DateTimeOffset signedAt = _app.Time.GetUtcNow();
        string genuine = MailgunSigner.Sign(MailgunSigner.EventData("delivered"), signedAt, token: token);
        string forged = MailgunSigner.Sign(MailgunSigner.EventData("complained", recipient: "victim@example.com"), signedAt, token: token);

        (await PostAsync(genuine)).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Time.Advance(TimeSpan.FromMinutes(4.9));
        (await PostAsync(forged)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        _app.Feedback.Calls.Should().ContainSingle().Which.Kind.Should().Be(EmailFeedbackKind.Delivered);
        _app.LogsWithId(1753).Should().ContainSingle();
    }

    [Fact]
    public async Task ReplayWithAnotherEventUnderTheSameToken_Answers401()
    {
        string token = new('a', 50);
        string first = MailgunSigner.Sign(MailgunSigner.EventData("delivered"), _app.Time.GetUtcNow(), token: token);
        string second = MailgunSigner.Sign(MailgunSigner.EventData("complained", recipient: "victim@example.com"), _app.Time.GetUtcNow(), token: token);

        (await PostAsync(first)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostAsync(second)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        _app.Feedback.Calls.Should().ContainSingle().Which.Kind.Should().Be(EmailFeedbackKind.Delivered);
    }

    [Fact]
    public async Task StoreUnavailable_Answers503_AndTheRetryWithTheSameTokenIsAccepted()
    {
        string body = Signed("failed", "permanent");
        _app.Feedback.Outcome = _ => EmailFeedbackOutcome.StoreUnavailable;
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);

        _app.Feedback.Outcome = _ => EmailFeedbackOutcome.Recorded;
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().HaveCount(2);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[1,2]")]
    [InlineData("null")]
    public async Task MalformedBody_Answers400(string body)
    {
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task SignedBodyWithoutEventData_Answers400()
    {
        string body = MailgunSigner.With(Signed("failed", "permanent"), root => root.Remove("event-data"));

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task SignedFailureWithoutRecipient_Answers400()
    {
        var data = MailgunSigner.EventData("failed", severity: "permanent");
        data.Remove("recipient");

        (await PostAsync(MailgunSigner.Sign(data, _app.Time.GetUtcNow()))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task OversizedBody_Answers413BeforeItIsParsed()
    {
        string body = MailgunSigner.With(Signed("failed", "permanent"), root => root["padding"] = new string('x', 70_000));

        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task ChunkedOversizedBody_Answers413()
    {
        string body = MailgunSigner.With(Signed("failed", "permanent"), root => root["padding"] = new string('x', 70_000));
        var content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{WebhookTestApp.Prefix}/mailgun") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        (await _app.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        _app.Feedback.Calls.Should().BeEmpty();
    }
}
