using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace EmailGuard.AspNetCore.Tests.Feedback;

public sealed class SesWebhookTests : SesWebhookTestBase
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task IdentityBounce_TwoRecipients_RecordsOnePermanentBouncePerRecipient(int version)
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityBounceTwoRecipients), version);

        HttpResponseMessage response = await PostAsync(message);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Should().HaveCount(2);
        App.Feedback.Calls.Select(e => e.Recipient).Should().Equal("jane@example.com", "richard@example.com");
        App.Feedback.Calls.Should().AllSatisfy(e =>
        {
            e.Provider.Should().Be("ses");
            e.Kind.Should().Be(EmailFeedbackKind.Bounced);
            e.BounceType.Should().Be(EmailBounceType.Permanent);
            e.ProviderMessageId.Should().Be("0102017c-ses-message-1");
            e.Timestamp.Should().Be(new DateTimeOffset(2026, 3, 2, 0, 0, 5, TimeSpan.Zero));
            e.Echoed().Should().BeNull();
        });
        App.Feedback.Calls.Select(e => e.ProviderEventId).Should().OnlyHaveUniqueItems()
            .And.AllSatisfy(id => id.Should().Contain("0102017c-feedback-0001"));
    }

    [Fact]
    public async Task ConfigurationSetBounce_WithTags_CarriesTheAttribution()
    {
        var attribution = new EmailSendAttribution { TenantId = "tenant-7", UserId = "user-3", Category = "signup", ClientNetwork = "203.0.113.0/24" };
        string payload = SesFixtures.EventBounceWithTags(EmailFeedbackTags.Write(attribution));

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(payload, subject: "Amazon SES Email Event Notification")));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        EmailFeedbackEvent recorded = App.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.BounceType.Should().Be(EmailBounceType.Transient);
        recorded.Recipient.Should().Be("full@example.com");
        recorded.Echoed().Should().BeEquivalentTo(attribution);
    }

    [Theory]
    [InlineData("OnAccountSuppressionList", true)]
    [InlineData("Suppressed", false)]
    [InlineData("General", false)]
    public async Task BounceOfTheAccountSuppressionList_IsRecordedAsSuppressedByTheProvider(string subType, bool suppressed)
    {
        // SES leaves the account-level list out of the account's bounce rate; the global list ("Suppressed") it counts.
        string payload = SesFixtures.IdentityBounceTwoRecipients.Replace("\"bounceSubType\": \"General\"", $"\"bounceSubType\": \"{subType}\"", StringComparison.Ordinal);
        payload.Should().Contain(subType);

        (await PostAsync(Signer.Sign(SnsSigner.Notification(payload)))).StatusCode.Should().Be(HttpStatusCode.OK);

        App.Feedback.Calls.Should().HaveCount(2).And.OnlyContain(e => e.BounceType == EmailBounceType.Permanent && e.SuppressedByProvider == suppressed);
    }

    [Fact]
    public async Task ComplaintOfTheAccountSuppressionList_IsRecordedAsSuppressedByTheProvider()
    {
        string payload = SesFixtures.IdentityComplaint.Replace("\"complaintFeedbackType\": \"abuse\",", "\"complaintSubType\": \"OnAccountSuppressionList\",", StringComparison.Ordinal);
        payload.Should().Contain("complaintSubType");

        (await PostAsync(Signer.Sign(SnsSigner.Notification(payload)))).StatusCode.Should().Be(HttpStatusCode.OK);

        EmailFeedbackEvent recorded = App.Feedback.Calls.Should().ContainSingle().Subject;
        (recorded.Kind, recorded.SuppressedByProvider).Should().Be((EmailFeedbackKind.Complained, true));
    }

    [Fact]
    public async Task Complaint_IsRecordedAsComplained()
    {
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        EmailFeedbackEvent recorded = App.Feedback.Calls.Should().ContainSingle().Subject;
        recorded.Kind.Should().Be(EmailFeedbackKind.Complained);
        recorded.Recipient.Should().Be("richard@example.com");
    }

    [Fact]
    public async Task Delivery_ToTwoRecipients_RecordsTwoDeliveries()
    {
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Should().HaveCount(2).And.OnlyContain(e => e.Kind == EmailFeedbackKind.Delivered);
    }

    [Theory]
    [InlineData(SesFixtures.EventOpen)]
    [InlineData("Successfully validated SNS topic for Amazon SES event publishing.")]
    public async Task AuthenticEventOfAnUnusedType_IsAcknowledgedAndRecordsNothing(string payload)
    {
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(payload)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1756).Should().ContainSingle();
    }

    [Fact]
    public async Task SigningCertificate_IsFetchedOnceForManyMessages()
    {
        for (int i = 0; i < 3; i++)
        {
            (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        App.Sns.CertificateFetches.Should().Be(1);
    }

    [Fact]
    public async Task MessagesNamingMissingCertificates_DoNotPushTheRealOneOutOfTheBoundedCache()
    {
        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        for (int i = 0; i < 40; i++)
        {
            string missing = $"https://sns.eu-west-1.amazonaws.com/missing-{i}.pem";
            (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: missing))).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        }

        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);

        App.Sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1);
        App.Sns.CertificateFetches.Should().Be(41, "each missing certificate is asked for once");
    }

    [Fact]
    public async Task CachedCertificate_IsFetchedAgainAfterItsLifetime()
    {
        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        App.Time.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));

        // A notification of now: one signed a day ago would be refused as stale (SesWebhookOptions.MaxMessageAge).
        Dictionary<string, string?> later = SnsSigner.Notification(SesFixtures.IdentityComplaint);
        later["Timestamp"] = App.Time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        (await PostAsync(Signer.Sign(later))).StatusCode.Should().Be(HttpStatusCode.OK);

        App.Sns.CertificateFetches.Should().Be(2);
    }

    [Fact]
    public async Task Unsigned_Answers401AndRecordsNothing()
    {
        HttpResponseMessage response = await PostAsync(SnsSigner.Notification(SesFixtures.IdentityBounceTwoRecipients));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1750).Should().ContainSingle();
    }

    [Fact]
    public async Task TamperedMessage_Answers401AndRecordsNothing()
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        message["Message"] = message["Message"]!.Replace("richard@example.com", "victim@example.com", StringComparison.Ordinal);

        HttpResponseMessage response = await PostAsync(message);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1751).Should().ContainSingle();
    }

    [Fact]
    public async Task SubjectAddedAfterSigning_Answers401()
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        message["Subject"] = "added";

        (await PostAsync(message)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task SignedByAnotherKey_Answers401AndRecordsNothing()
    {
        using var other = new SnsSigner(TestApp.Start);

        HttpResponseMessage response = await PostAsync(other.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("http://sns.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem")]
    [InlineData("https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com/cert.txt")]
    [InlineData("https://sns.eu-west-1.amazonaws.com:8443/cert.pem")]
    [InlineData("https://user@sns.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("https://s3.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("https://sns.x.amazonaws.com/cert.pem")]
    [InlineData("https://sns.s3-accelerate.amazonaws.com/cert.pem")]
    [InlineData("https://sns.s3-us-west-2.amazonaws.com/cert.pem")]
    [InlineData("https://sns.s3-external-1.amazonaws.com/cert.pem")]
    [InlineData("https://sns.s3-fips-us-gov-west-1.amazonaws.com/cert.pem")]
    [InlineData("not a url")]
    public async Task UntrustedCertificateUrl_Answers401WithoutFetching(string certUrl)
    {
        App.Sns.Certificates[certUrl] = Signer.Pem;

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: certUrl));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Sns.Requests.Should().BeEmpty();
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1758).Should().ContainSingle();
    }

    [Fact]
    public async Task CertificateUrlRedirectedByTheAppsOwnHandler_NotVerified_TheKeyElsewhereIsNotTrusted()
    {
        // An app that gave the SNS client a handler of its own that follows redirects: an SNS host's URL that redirects
        // to another host must not make that host's certificate the one that verifies the notification.
        using SnsSigner attacker = new(TestApp.Start);
        const string url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-redirected.pem";
        var elsewhere = new Uri("https://evil.example/attacker.pem");
        App.Sns.Certificates[elsewhere.AbsoluteUri] = attacker.Pem;
        App.Sns.Redirects[url] = elsewhere;

        HttpResponseMessage response = await PostAsync(attacker.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: url));

        // Unavailable, as any certificate that cannot be had (503: SNS retries); never verified with the key elsewhere.
        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1759).Should().ContainSingle().Which.Message.Should().Contain("evil.example/attacker.pem").And.Contain("redirect");
    }

    [Theory]
    [InlineData("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-cn.pem")]
    [InlineData("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-gov.pem")]
    [InlineData("https://sns.ap-southeast-7.amazonaws.com/SimpleNotificationService-ap.pem")]
    public async Task RegionCertificateHost_IsTrusted(string url)
    {
        App.Sns.Certificates[url] = Signer.Pem;

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: url));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Should().ContainSingle();
    }

    [Fact]
    public async Task TopicNotInTheAllowlist_Answers401WithoutFetching()
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint, topicArn: "arn:aws:sns:eu-west-1:999999999999:someone-else"));

        HttpResponseMessage response = await PostAsync(message);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Sns.Requests.Should().BeEmpty();
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1757).Should().ContainSingle();
    }

    [Fact]
    public async Task UnknownSignatureVersion_Answers401()
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        message["SignatureVersion"] = "3";

        (await PostAsync(message)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData(1, HttpStatusCode.Unauthorized)]
    [InlineData(2, HttpStatusCode.OK)]
    public async Task RequireSignatureVersion2_Version1IsRefusedWithoutAFetch_Version2Recorded(int version, HttpStatusCode expected)
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using WebhookTestApp app = await WebhookTestApp.StartAsync(
            WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())),
            o => o.Ses.RequireSignatureVersion2 = true);
        app.Sns.Certificates[SnsSigner.DefaultCertUrl] = Signer.Pem;

        HttpResponseMessage response = await app.PostAsync("ses", SnsSigner.Body(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), version)));

        response.StatusCode.Should().Be(expected);
        app.Feedback.Calls.Should().HaveCount(version == 2 ? 1 : 0);
        if (version == 1)
        {
            app.Sns.Requests.Should().BeEmpty("a version 1 message is refused before its certificate is fetched");
        }
    }

    [Fact]
    public async Task CertificateThatCannotBeFetched_Answers503SoSnsRetries()
    {
        const string missing = "https://sns.eu-west-1.amazonaws.com/missing.pem";

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: missing));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1759).Should().ContainSingle();
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[]")]
    [InlineData("")]
    public async Task MalformedBody_Answers400AndRecordsNothing(string body)
    {
        HttpResponseMessage response = await App.PostAsync("ses", new StringContent(body, Encoding.UTF8, "text/plain"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1755).Should().ContainSingle();
    }

    [Fact]
    public async Task SignedBounceWithABadRecipientEntry_RecordsTheOtherRecipients()
    {
        // Arrange: a signed bounce whose first entry has no address. SNS retries the same message, so a 400 lost the
        // other recipients' bounces for good (found by h58's hostile review).
        string payload = SesFixtures.IdentityBounceTwoRecipients.Replace("\"emailAddress\": \"jane@example.com\"", "\"emailAddress\": null", StringComparison.Ordinal);

        // Act
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(payload)));

        // Assert
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Select(e => e.Recipient).Should().Equal(["richard@example.com"]);
        App.LogsWithId(2920).Should().ContainSingle();
    }

    [Fact]
    public async Task SignedBounceWithoutRecipients_Answers400()
    {
        const string payload = """{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[]},"mail":{"messageId":"m"}}""";

        (await PostAsync(Signer.Sign(SnsSigner.Notification(payload)))).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task OversizedBody_Answers413AndRecordsNothing()
    {
        var message = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        message["Padding"] = new string('x', 70_000);

        HttpResponseMessage response = await PostAsync(message);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1754).Should().ContainSingle();
    }

    [Fact]
    public async Task StoreUnavailable_Answers503WithRetryAfter()
    {
        App.Feedback.Outcome = _ => EmailFeedbackOutcome.StoreUnavailable;

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityBounceTwoRecipients)));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.Should().NotBeNull();
        App.Feedback.Calls.Should().ContainSingle("recording stops at the first outage; SNS retries the whole message");
    }

    [Fact]
    public async Task VerifiedSubscriptionConfirmation_IsConfirmedOnce()
    {
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.SubscriptionConfirmation()));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Sns.Confirmations.Should().ContainSingle().Which.Host.Should().Be("sns.eu-west-1.amazonaws.com");
        App.Feedback.Calls.Should().BeEmpty();
        App.LogsWithId(1766).Should().ContainSingle();
    }

    [Fact]
    public async Task UnverifiedSubscriptionConfirmation_Answers401AndConfirmsNothing()
    {
        var message = Signer.Sign(SnsSigner.SubscriptionConfirmation());
        message["Token"] = "another-token";

        HttpResponseMessage response = await PostAsync(message);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Sns.Confirmations.Should().BeEmpty();
    }

    [Theory]
    [InlineData("https://evil.example/?Action=ConfirmSubscription")]
    [InlineData("http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")]
    [InlineData("https://sns.eu-west-1.amazonaws.com.evil.example/?Action=ConfirmSubscription")]
    public async Task SubscriptionConfirmationToAForeignUrl_Answers401AndFetchesNothing(string subscribeUrl)
    {
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.SubscriptionConfirmation(subscribeUrl)));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Sns.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task SubscriptionConfirmationThatSnsRefuses_Answers503()
    {
        App.Sns.ConfirmationStatus = HttpStatusCode.Forbidden;

        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.SubscriptionConfirmation()));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        App.LogsWithId(1760).Should().ContainSingle();
    }
}
