using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>Attacks on the feedback routes that held when they were tried: pinned so they keep holding.</summary>
public sealed class HostileFeedbackProbeTests : SesWebhookTestBase
{
    [Theory]
    [InlineData("https://sns.amazonaws.com@evil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com@evil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com:@evil.example/cert.pem")]
    [InlineData("https://evil.example\\@sns.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com\\@evil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com%2eevil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com%00.evil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com.cn.evil.example/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com./cert.pem")]
    [InlineData("https://sns.eu-west-1.\u0430mazonaws.com/cert.pem")]
    [InlineData("https://sns.eu-west-1.xn--amazonaws-xyz.com/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws\uFF0Ecom.evil.example/cert.pem")]
    [InlineData("https://52.94.236.248/cert.pem")]
    [InlineData("https://[::1]/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com:444/cert.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com/cert.pem?x=.pem")]
    [InlineData("https://sns.eu-west-1.amazonaws.com/cert.pem#.pem")]
    [InlineData("//sns.eu-west-1.amazonaws.com/cert.pem")]
    [InlineData("file:///sns.eu-west-1.amazonaws.com/cert.pem")]
    public void CertificateUrlThatOnlyLooksLikeAnSnsHost_IsNotTrusted(string url)
        => SnsHosts.IsTrusted(url, requirePem: true, out _).Should().BeFalse();

    [Theory]
    [InlineData("https://SNS.EU-WEST-1.AMAZONAWS.COM/cert.pem", "sns.eu-west-1.amazonaws.com")]
    [InlineData("https://sns.eu-west-1.amazonaws.com:443/cert.pem", "sns.eu-west-1.amazonaws.com")]
    [InlineData("https://sns.eu-west-1.amazonaws.com/a/../cert.pem", "sns.eu-west-1.amazonaws.com")]
    public void SpellingsOfAnSnsHost_AreTrusted_AndFetchedFromThatHost(string url, string host)
    {
        SnsHosts.IsTrusted(url, requirePem: true, out Uri? uri).Should().BeTrue();
        (uri!.Host, uri.Port).Should().Be((host, 443));
    }

    [Theory]
    [InlineData("notification")]
    [InlineData("Notification ")]
    [InlineData("SubscriptionConfirmation2")]
    public async Task SignedMessageOfATypeSnsDoesNotSend_RecordsNothing(string type)
    {
        var message = SnsSigner.Notification(SesFixtures.IdentityComplaint);
        message["Type"] = type;

        HttpResponseMessage response = await PostAsync(Signer.Sign(message));

        ((int)response.StatusCode).Should().BeInRange(400, 499);
        App.Feedback.Calls.Should().BeEmpty();
        App.Sns.Requests.Should().BeEmpty();
    }

    [Fact]
    public async Task SignedNotification_WithAnotherMessageAddedUnderTheSameKey_RecordsNothingOrOnlyTheSignedOne()
    {
        // A duplicate "Message" key: whichever copy the parser keeps, the signature is checked over that same copy.
        var signed = Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        string json = Encoding.UTF8.GetString(await SnsSigner.Body(signed).ReadAsByteArrayAsync());
        string forged = SesFixtures.IdentityComplaint.Replace("@", "+forged@", StringComparison.Ordinal);
        string body = json[..^1] + ",\"Message\":" + JsonValue.Create(forged).ToJsonString() + "}";

        HttpResponseMessage response = await App.PostAsync("ses", new StringContent(body, Encoding.UTF8, "text/plain"));

        App.Feedback.Calls.Should().NotContain(c => c.Recipient.Contains("+forged@", StringComparison.Ordinal));
        ((int)response.StatusCode).Should().BeOneOf(200, 400, 401);
    }

    [Fact]
    public async Task Mailgun_SignatureShiftedBetweenTimestampAndToken_RecordsNothing()
    {
        // HMAC(timestamp + token) does not separate the two: "T" + "5abc" signs the same as "T5" + "abc". The shifted
        // timestamp is ten times the real one, so it is refused as stale and nothing is recorded.
        string token = "5" + new string('a', 49);
        string body = MailgunSigner.Sign(MailgunSigner.EventData("complained"), App.Time.GetUtcNow(), token: token);
        string shifted = MailgunSigner.With(body, root =>
        {
            JsonObject signature = root["signature"]!.AsObject();
            signature["timestamp"] = (string)signature["timestamp"]! + "5";
            signature["token"] = token[1..];
        });

        HttpResponseMessage response = await App.PostAsync("mailgun", MailgunSigner.Json(shifted));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Postmark_ASecondAuthorizationHeader_IsRefused()
    {
        HttpRequestMessage request = WebhookTestApp.PostmarkRequest("""{"RecordType":"Bounce","ID":1,"Type":"HardBounce","Email":"a@example.com"}""");
        request.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("x:y"))).Should().BeTrue();

        HttpResponseMessage response = await App.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Feedback.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("\uFEFF{\"RecordType\":\"Bounce\",\"ID\":1,\"Type\":\"HardBounce\",\"Email\":\"a@example.com\"}")]
    [InlineData("{\"RecordType\":\"Bounce\",/*c*/\"ID\":1,\"Type\":\"HardBounce\",\"Email\":\"a@example.com\"}")]
    [InlineData("{\"RecordType\":\"Bounce\",\"ID\":1,\"Type\":\"HardBounce\",\"Email\":\"a@example.com\",}")]
    [InlineData("{\"RecordType\":\"Bounce\",\"ID\":1e999999,\"Type\":\"HardBounce\",\"Email\":\"a@example.com\"}")]
    public async Task Postmark_OddJson_IsNeither500NorRecordedTwice(string body)
    {
        HttpResponseMessage response = await App.SendAsync(WebhookTestApp.PostmarkRequest(body));

        ((int)response.StatusCode).Should().BeOneOf(200, 400);
        App.Feedback.Calls.Count.Should().BeLessThanOrEqualTo(1);
    }

    [Fact]
    public async Task DeeplyNestedBody_Answers400()
    {
        string body = new string('[', 10_000) + new string(']', 10_000);

        HttpResponseMessage response = await App.PostAsync("mailgun", MailgunSigner.Json(body));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }
}
