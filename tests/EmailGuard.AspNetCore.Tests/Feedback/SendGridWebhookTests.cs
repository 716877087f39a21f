using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class SendGridWebhookTests : IAsyncLifetime
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync() =>
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo())));

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _key.Dispose();
    }

    /// <summary>Events with the field names of SendGrid's Event Webhook reference; custom args are top-level keys.</summary>
    private static string Events(IReadOnlyDictionary<string, string>? customArgs = null)
    {
        JsonObject Event(string type, string email, string id, params (string Key, string Value)[] extra)
        {
            var item = new JsonObject
            {
                ["email"] = email,
                ["timestamp"] = 1772409600,
                ["smtp-id"] = "<14c5d75ce93.dfd.64b469@ismtpd-555>",
                ["event"] = type,
                ["category"] = "cat facts",
                ["sg_event_id"] = id,
                ["sg_message_id"] = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            };
            foreach ((string key, string value) in extra)
            {
                item[key] = value;
            }

            foreach (KeyValuePair<string, string> arg in customArgs ?? new Dictionary<string, string>())
            {
                item[arg.Key] = arg.Value;
            }

            return item;
        }

        return new JsonArray(
            Event("processed", "a@example.com", "ev-processed"),
            Event("bounce", "a@example.com", "ev-bounce", ("reason", "500 unknown recipient"), ("status", "5.0.0"), ("type", "bounce")),
            Event("bounce", "b@example.com", "ev-blocked", ("reason", "blocked"), ("status", "4.0.0"), ("type", "blocked")),
            Event("spamreport", "c@example.com", "ev-spam"),
            Event("delivered", "d@example.com", "ev-delivered", ("response", "250 OK")),
            Event("dropped", "e@example.com", "ev-dropped", ("reason", "Bounced Address")),
            Event("dropped", "g@example.com", "ev-dropped-content", ("reason", "Spam Content")),
            Event("open", "d@example.com", "ev-open"),
            Event("unsubscribe", "f@example.com", "ev-unsub")).ToJsonString();
    }

    private HttpRequestMessage Signed(string body, DateTimeOffset? at = null, ECDsa? key = null, string? timestampHeader = null)
        => WebhookTestApp.SignedSendGridRequest(key ?? _key, at ?? _app.Time.GetUtcNow(), body, timestampHeader);

    [Fact]
    public async Task SignedBatch_RecordsTheEventsEmailGuardUses()
    {
        var attribution = new EmailSendAttribution { TenantId = "acme", Category = "invoice" };

        HttpResponseMessage response = await _app.SendAsync(Signed(Events(EmailFeedbackTags.Write(attribution))));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Select(e => (e.ProviderEventId, e.Kind, e.BounceType)).Should().Equal(
            ("ev-bounce", EmailFeedbackKind.Bounced, EmailBounceType.Permanent),
            ("ev-blocked", EmailFeedbackKind.Bounced, EmailBounceType.Transient),
            ("ev-spam", EmailFeedbackKind.Complained, EmailBounceType.None),
            ("ev-delivered", EmailFeedbackKind.Delivered, EmailBounceType.None),
            ("ev-dropped", EmailFeedbackKind.Bounced, EmailBounceType.Permanent),
            ("ev-unsub", EmailFeedbackKind.Unsubscribed, EmailBounceType.None));
        _app.Feedback.Calls.Where(e => e.SuppressedByProvider).Select(e => e.ProviderEventId).Should().Equal(["ev-dropped"], "SendGrid dropped it: the address is on its bounce list");
        _app.Feedback.Calls.Should().AllSatisfy(e =>
        {
            e.Provider.Should().Be("sendgrid");
            e.ProviderMessageId.Should().Be("14c5d75ce93.dfd.64b469", "the X-Message-Id of the send, which the transport tracked");
            e.Echoed().Should().BeEquivalentTo(attribution);
            e.Timestamp.Should().Be(DateTimeOffset.FromUnixTimeSeconds(1772409600));
        });
        _app.LogsWithId(1756).Should().HaveCount(3, "processed, a drop for its content and open are acknowledged and ignored");
    }

    [Theory]
    [InlineData("Bounced Address", EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    [InlineData("Invalid", EmailFeedbackKind.Bounced, EmailBounceType.Permanent)]
    [InlineData("Spam Reporting Address", EmailFeedbackKind.Complained, EmailBounceType.None)]
    [InlineData("Unsubscribed Address", EmailFeedbackKind.Unsubscribed, EmailBounceType.None)]
    public async Task DropOfAnAddressOnASuppressionList_IsRecordedAsSuppressedByTheProvider(string reason, EmailFeedbackKind kind, EmailBounceType bounce)
    {
        string body = $$"""
            [{"email":"a@example.com","timestamp":1772409600,"event":"dropped","reason":"{{reason}}","sg_event_id":"ev-1","sg_message_id":"Ua9z9lSTSaqYBWJe_Xfc-Q.filterdrecv-5645d9c87f-6r2ch-1-5B5B0F2A-3.0"}]
            """;

        (await _app.SendAsync(Signed(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        (recorded.Kind, recorded.BounceType, recorded.SuppressedByProvider).Should().Be((kind, bounce, true));
    }

    [Theory]
    [InlineData("Ua9z9lSTSaqYBWJe_Xfc-Q.filterdrecv-5645d9c87f-6r2ch-1-5B5B0F2A-3.0", "Ua9z9lSTSaqYBWJe_Xfc-Q")]
    [InlineData("XBg2anf2TqCy6WXKQFhieQ.filter0905p1mdw1-4434-59E0C6FF-3.0", "XBg2anf2TqCy6WXKQFhieQ")]
    [InlineData("kDZ-9EdXTtqLA3ZTnL2GjQ.recvd-57c8c7b6d-8cbmm-1-64F5B3C2-7.0", "kDZ-9EdXTtqLA3ZTnL2GjQ")]
    [InlineData("Ua9z9lSTSaqYBWJe_Xfc-Q", "Ua9z9lSTSaqYBWJe_Xfc-Q")]
    public async Task EventWithoutCustomArgs_CarriesTheXMessageIdTheTransportTracked(string sgMessageId, string xMessageId)
    {
        // Without custom args the attribution is found by message id, and the transport tracked the X-Message-Id that
        // SendGrid's send API answered: sg_message_id is that id followed by the id of the server that split the message.
        string body = $$"""
            [{"email":"a@example.com","timestamp":1772409600,"event":"bounce","type":"bounce","sg_event_id":"ev-1","sg_message_id":"{{sgMessageId}}"}]
            """;

        (await _app.SendAsync(Signed(body))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.ProviderMessageId.Should().Be(xMessageId);
        recorded.Echoed().Should().BeNull();
    }

    [Fact]
    public async Task Unsigned_Answers401()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{WebhookTestApp.Prefix}/sendgrid") { Content = new StringContent(Events(), Encoding.UTF8, "application/json") };

        (await _app.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1750).Should().ContainSingle();
    }

    [Fact]
    public async Task SignedByAnotherKey_Answers401()
    {
        using ECDsa other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        (await _app.SendAsync(Signed(Events(), key: other))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1751).Should().ContainSingle();
    }

    [Fact]
    public async Task TamperedBody_Answers401()
    {
        HttpRequestMessage request = Signed(Events());
        string tampered = (await request.Content!.ReadAsStringAsync()).Replace("c@example.com", "x@example.com", StringComparison.Ordinal);
        request.Content = new StringContent(tampered, Encoding.UTF8, "application/json");

        (await _app.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task TamperedTimestampHeader_Answers401()
    {
        string later = _app.Time.GetUtcNow().AddSeconds(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        (await _app.SendAsync(Signed(Events(), timestampHeader: later))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task SignatureThatIsNotBase64_Answers401()
    {
        HttpRequestMessage request = Signed(Events());
        request.Headers.Remove("X-Twilio-Email-Event-Webhook-Signature");
        request.Headers.Add("X-Twilio-Email-Event-Webhook-Signature", "not base64!");

        (await _app.SendAsync(request)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task StaleTimestamp_IsAcknowledgedAndNotRecorded()
    {
        (await _app.SendAsync(Signed(Events(), at: _app.Time.GetUtcNow().AddMinutes(-10)))).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().ContainSingle();
    }

    [Fact]
    public async Task StaleTimestamp_UnderAnotherKeysSignature_Answers401()
    {
        using ECDsa other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        (await _app.SendAsync(Signed(Events(), at: _app.Time.GetUtcNow().AddMinutes(-10), key: other))).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().BeEmpty();
    }

    [Theory]
    [InlineData("{\"event\":\"bounce\"}")]
    [InlineData("[{")]
    public async Task SignedButMalformed_Answers400(string body)
    {
        (await _app.SendAsync(Signed(body))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("1")]
    [InlineData("{\"event\":\"bounce\",\"email\":\"a@example.com\",\"timestamp\":1772409600}")]
    [InlineData("{\"event\":\"spamreport\",\"email\":\"\",\"sg_event_id\":\"ev-blank\"}")]
    public async Task BadEventInABatch_IsSkipped_AndTheRestOfTheBatchIsRecorded(string bad)
    {
        // Arrange: one event SendGrid should never send (or one a sender's custom arg blanked) beside a real bounce. The
        // batch is signed, so its retry carries the same bad event: answered 400, it was retried for a day and then lost,
        // and with it every other tenant's bounces of the batch (found by h58's hostile review).
        const string honest = """{"email":"b@example.com","timestamp":1772409600,"event":"bounce","sg_event_id":"ev-honest"}""";

        // Act
        HttpResponseMessage response = await _app.SendAsync(Signed($"[{bad},{honest}]"));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Select(e => e.ProviderEventId).Should().Equal(["ev-honest"]);
        _app.LogsWithId(2920).Should().ContainSingle();
    }

    [Fact]
    public async Task EventRepeatingItsOwnEmail_IsRecordedWithAnUncertainRecipient_AndTheRestOfTheBatchAsItWas()
    {
        // Arrange: SendGrid echoes custom args beside its own fields. A sender whose custom args are named like them
        // ("email", "event", "sg_event_id") gets events carrying two copies, and which one is SendGrid's cannot be told:
        // read as it stood, the bounce of a dead address suppressed a victim's (found by h58's hostile review); skipped,
        // every bounce of the sender's mail counted nowhere (h122).
        const string forged = """
            {"email":"dead-address@example.com","timestamp":1772409600,"event":"bounce","type":"bounce","sg_event_id":"ev-forged",
             "sg_message_id":"m1","email":"victim@example.com","eg_t":"good"}
            """;
        const string honest = """
            {"email":"b@example.com","timestamp":1772409600,"event":"bounce","type":"bounce","sg_event_id":"ev-honest","sg_message_id":"m2"}
            """;

        // Act
        HttpResponseMessage response = await _app.SendAsync(Signed($"[{forged},{honest}]"));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Select(e => (e.Recipient, e.RecipientUncertain, e.ProviderMessageId, e.Echoed())).Should().Equal(
            ("unknown@recipient.invalid", true, "m1", null),
            ("b@example.com", false, "m2", null));
        _app.Feedback.Calls[0].ProviderEventId.Should().StartWith("emailguard:bounce:", "the id is derived from what the sender cannot choose alone");
        _app.LogsWithId(3044).Should().ContainSingle().Which.Message.Should().Contain("'email'");
        _app.LogsWithId(2920).Should().BeEmpty();
    }

    [Theory]
    [InlineData("Spam Content", "Bounced Address")]
    [InlineData("Bounced Address", "Spam Content")]
    public async Task DroppedEventRepeatingItsReason_IsNotRecorded(string first, string second)
    {
        // Arrange: a dropped event's "reason" says which suppression list SendGrid found the address on, and so whether
        // the drop suppresses the recipient here. A custom arg named "reason" is a second copy, and which one is SendGrid's
        // cannot be told: read as it stood, a drop for spam content suppressed the recipient as a bounced address.
        string forged = $$"""
            {"email":"victim@example.com","timestamp":1772409600,"event":"dropped","reason":"{{first}}","sg_event_id":"ev-forged",
             "sg_message_id":"m1","reason":"{{second}}"}
            """;

        // Act
        HttpResponseMessage response = await _app.SendAsync(Signed($"[{forged}]"));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().BeEmpty("whichever copy is read, the event is not taken as SendGrid's");
    }

    [Fact]
    public async Task StoreUnavailable_Answers503()
    {
        _app.Feedback.Outcome = _ => EmailFeedbackOutcome.StoreUnavailable;

        (await _app.SendAsync(Signed(Events()))).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
    }
}
