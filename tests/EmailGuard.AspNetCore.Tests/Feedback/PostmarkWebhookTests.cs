using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class PostmarkWebhookTests : IAsyncLifetime
{
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())));
    }

    public Task DisposeAsync() => _app.DisposeAsync().AsTask();

    /// <summary>The bounce webhook example of Postmark's documentation.</summary>
    private static string Bounce(string type = "HardBounce", string recordType = "Bounce", string metadata = "{}") => $$"""
        {
          "RecordType": "{{recordType}}",
          "MessageStream": "outbound",
          "ID": 4323372036854775807,
          "Type": "{{type}}",
          "TypeCode": 1,
          "Name": "Hard bounce",
          "Tag": "Test",
          "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
          "Metadata": {{metadata}},
          "ServerID": 23,
          "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
          "Details": "Test bounce details",
          "Email": "john@example.com",
          "From": "sender@example.com",
          "BouncedAt": "2026-03-02T00:00:10Z",
          "DumpAvailable": true,
          "Inactive": true,
          "CanActivate": true,
          "Subject": "Test subject",
          "Content": "<Full dump of bounce>"
        }
        """;

    private const string Delivery = """
        {
          "RecordType": "Delivery",
          "ServerID": 23,
          "MessageStream": "outbound",
          "MessageID": "00000000-0000-0000-0000-000000000000",
          "Recipient": "john@example.com",
          "Tag": "welcome-email",
          "DeliveredAt": "2026-03-02T00:00:20Z",
          "Details": "Test delivery webhook details",
          "Metadata": { "example": "value" }
        }
        """;

    private static string SubscriptionChange(string reason, string origin, bool suppress = true) => $$"""
        {
          "RecordType": "SubscriptionChange",
          "MessageID": "00000000-0000-0000-0000-000000000000",
          "ServerID": 23,
          "MessageStream": "outbound",
          "ChangedAt": "2026-03-02T00:00:30Z",
          "Recipient": "bounced-address@example.com",
          "Origin": "{{origin}}",
          "SuppressSending": {{(suppress ? "true" : "false")}},
          "SuppressionReason": "{{reason}}",
          "Tag": "my-tag",
          "Metadata": { "example": "value" }
        }
        """;

    private Task<HttpResponseMessage> PostAsync(string body, string? user = WebhookTestApp.PostmarkUser, string? password = WebhookTestApp.PostmarkPassword)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{WebhookTestApp.Prefix}/postmark") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (user is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        }

        return _app.SendAsync(request);
    }

    [Fact]
    public async Task RecordOlderThanMaxEventAge_IsAcknowledgedAndNotRecorded()
    {
        // Arrange: a bounce posted again after its ID's deduplication (3 days) has lapsed: a request captured from a
        // log, a webhook re-sent by hand. Postmark signs nothing, so the record's own time is the only bound; it was
        // recorded a second time, its party charged twice, its address suppressed again (found by h58's hostile review).
        // It used to be answered 401, which Postmark retries for 10.5 hours, though no retry can make the record younger.
        _app.Time.Advance(new EmailFeedbackOptions().DeduplicationWindow + TimeSpan.FromHours(1));

        // Act
        HttpResponseMessage response = await PostAsync(Bounce());

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().ContainSingle().Which.Message.Should().Contain("bounce:4323372036854775807").And.Contain("1 ");
    }

    [Theory]
    [InlineData(WebhookTestApp.PostmarkUser, "wrong-password-wrong")]
    [InlineData(null, null)]
    public async Task RecordOlderThanMaxEventAge_WithoutTheCredentials_Answers401(string? user, string? password)
    {
        _app.Time.Advance(new EmailFeedbackOptions().DeduplicationWindow + TimeSpan.FromHours(1));

        HttpResponseMessage response = await PostAsync(Bounce(), user, password);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "only an authentic record is acknowledged");
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(2943).Should().BeEmpty();
    }

    [Theory]
    [InlineData("\"BouncedAt\": \"2026-03-02T00:00:10Z\",", "")]
    [InlineData("\"BouncedAt\": \"2026-03-02T00:00:10Z\",", "\"BouncedAt\": null,")]
    [InlineData("\"BouncedAt\": \"2026-03-02T00:00:10Z\",", "\"BouncedAt\": \"yesterday\",")]
    [InlineData("\"BouncedAt\": \"2026-03-02T00:00:10Z\",", "\"BouncedAt\": 1772409610,")]
    public async Task RecordWithoutATimeThatCanBeRead_IsRecordedUnchecked_AndSaysSo(string field, string replacement)
    {
        // Arrange: Postmark writes BouncedAt in every bounce, so a captured record posted again verbatim is always checked
        // against the age limit. One without it comes from whoever holds the credentials (who could as well write a fresh
        // time) or is a format this version does not read, where dropping it would drop every bounce: it is recorded,
        // but no longer silently (h122).
        _app.Time.Advance(new EmailFeedbackOptions().DeduplicationWindow + TimeSpan.FromHours(1));

        // Act
        HttpResponseMessage response = await PostAsync(Bounce().Replace(field, replacement, StringComparison.Ordinal));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().ContainSingle().Which.Timestamp.Should().Be(default(DateTimeOffset));
        _app.LogsWithId(3045).Should().ContainSingle().Which.Message.Should().Contain("bounce:4323372036854775807");
        _app.LogsWithId(2943).Should().BeEmpty();
    }

    [Fact]
    public async Task RecordWithinMaxEventAge_IsRecorded()
    {
        // Postmark retries a failed webhook for about 10.5 hours; the default age (1 day) covers that.
        _app.Time.Advance(TimeSpan.FromHours(11));

        (await PostAsync(Bounce())).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().ContainSingle();
    }

    [Theory]
    [InlineData("HardBounce", EmailBounceType.Permanent)]
    [InlineData("BadEmailAddress", EmailBounceType.Permanent)]
    [InlineData("SoftBounce", EmailBounceType.Transient)]
    [InlineData("Transient", EmailBounceType.Transient)]
    [InlineData("Blocked", EmailBounceType.Undetermined)]
    [InlineData("SMTPApiError", EmailBounceType.Permanent)]
    public async Task Bounce_IsRecordedWithItsType(string type, EmailBounceType bounce)
    {
        (await PostAsync(Bounce(type))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.Provider.Should().Be("postmark");
        recorded.Kind.Should().Be(EmailFeedbackKind.Bounced);
        recorded.BounceType.Should().Be(bounce);

        // SMTPApiError: SMTP mail to an address Postmark had made inactive, refused by Postmark itself.
        recorded.SuppressedByProvider.Should().Be(type == "SMTPApiError");
        recorded.Recipient.Should().Be("john@example.com");
        recorded.ProviderMessageId.Should().Be("883953f4-6105-42a2-a16a-77a8eac79483");
        recorded.ProviderEventId.Should().Be("bounce:4323372036854775807");
        recorded.Timestamp.Should().Be(new DateTimeOffset(2026, 3, 2, 0, 0, 10, TimeSpan.Zero));
    }

    [Fact]
    public async Task Metadata_CarriesTheAttribution()
    {
        var attribution = new EmailSendAttribution { TenantId = "t9", SendId = "s1" };
        string metadata = "{" + string.Join(",", EmailFeedbackTags.Write(attribution).Select(t => $"\"{t.Key}\":\"{t.Value}\"")) + "}";

        (await PostAsync(Bounce(metadata: metadata))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Echoed().Should().BeEquivalentTo(attribution);
    }

    [Theory]
    [InlineData("SpamComplaint", "SpamComplaint")]
    [InlineData("Bounce", "SpamComplaint")]
    public async Task SpamComplaint_IsRecordedAsComplained(string recordType, string type)
    {
        (await PostAsync(Bounce(type, recordType))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Kind.Should().Be(EmailFeedbackKind.Complained);
    }

    [Fact]
    public async Task Delivery_IsRecorded()
    {
        (await PostAsync(Delivery)).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().ContainSingle().Which.Kind.Should().Be(EmailFeedbackKind.Delivered);
    }

    [Fact]
    public async Task RecipientUnsubscribe_IsRecordedAsUnsubscribed()
    {
        (await PostAsync(SubscriptionChange("ManualSuppression", "Recipient"))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = _app.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.Kind.Should().Be(EmailFeedbackKind.Unsubscribed);
        recorded.Recipient.Should().Be("bounced-address@example.com");
    }

    [Theory]
    [InlineData("HardBounce", "Recipient", true)]
    [InlineData("ManualSuppression", "Customer", true)]
    [InlineData("ManualSuppression", "Recipient", false)]
    public async Task OtherSubscriptionChanges_AreAcknowledgedAndRecordNothing(string reason, string origin, bool suppress)
    {
        (await PostAsync(SubscriptionChange(reason, origin, suppress))).StatusCode.Should().Be(HttpStatusCode.OK);

        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("""{"RecordType":"Open","MessageID":"x","Recipient":"a@example.com"}""")]
    [InlineData("""{"RecordType":"Click","MessageID":"x","Recipient":"a@example.com"}""")]
    public async Task UnusedRecordType_IsAcknowledgedAndRecordsNothing(string body)
    {
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1756).Should().ContainSingle();
    }

    [Fact]
    public async Task NoCredentials_Answers401WithAChallenge()
    {
        HttpResponseMessage response = await PostAsync(Bounce(), user: null);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Basic");
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1750).Should().ContainSingle();
    }

    [Theory]
    [InlineData(WebhookTestApp.PostmarkUser, "correct-horse-battery-stapl")]
    [InlineData(WebhookTestApp.PostmarkUser, "correct-horse-battery-staple!")]
    [InlineData("someone", WebhookTestApp.PostmarkPassword)]
    [InlineData("", "")]
    public async Task WrongCredentials_Answer401(string user, string password)
    {
        (await PostAsync(Bounce(), user, password)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().BeEmpty();
        _app.LogsWithId(1751).Should().ContainSingle();
    }

    [Fact]
    public async Task OversizedBodyWithoutCredentials_Answers401BeforeReadingIt()
    {
        (await PostAsync(new string(' ', 70_000) + Bounce(), user: null)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task OversizedBody_Answers413()
    {
        (await PostAsync(new string(' ', 70_000) + Bounce())).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("{")]
    [InlineData("""{"RecordType":"Bounce","Type":"HardBounce","ID":1}""")]
    [InlineData("""{"RecordType":"Delivery","Recipient":"a@example.com"}""")]
    public async Task MalformedBody_Answers400(string body)
    {
        (await PostAsync(body)).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _app.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task RecorderRefusingAnEvent_IsAcknowledged()
    {
        var feedback = _app.Feedback;
        feedback.Outcome = e => throw new ArgumentException("not an address", nameof(e));

        (await PostAsync(Bounce())).StatusCode.Should().Be(HttpStatusCode.OK);
        _app.LogsWithId(1764).Should().ContainSingle();
    }
}
