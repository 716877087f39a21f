using System.Globalization;
using System.Net;
using EmailGuard.AspNetCore;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Anyone can post an SES notification naming a fresh certificate URL on an SNS host (the topic is public knowledge, the
/// signature is checked only once the certificate is in hand). Each such message started a fetch of up to the fetch
/// timeout, without bound, so a flood held as many outbound connections as it had requests (found by h58's hostile
/// review). Fetches running at once are now bounded, and the certificate already cached keeps genuine messages flowing.
/// </summary>
public sealed class HostileSnsFetchFloodTests : SesWebhookTestBase
{
    [Fact]
    public async Task MessagesNamingFreshCertificateUrls_StartAtMostABoundedNumberOfFetches()
    {
        // Arrange: the genuine certificate is cached by a genuine message; then the SNS host stops answering fetches.
        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        App.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(Flood(i)));
            await App.Sns.HeldFetches.WaitAsync();
        }

        // Act: one more fresh URL, and a genuine message, while the others hang.
        Task<HttpResponseMessage> extra = PostAsync(Flood(SnsCertificateCache.MaxFetchesInFlight));
        HttpResponseMessage genuine = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));
        App.Sns.Hold.SetResult();
        HttpResponseMessage[] flood = await Task.WhenAll([.. held, extra]);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "the cached certificate needs no fetch");
        flood.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable), "SNS retries a 503");
        App.Sns.CertificateFetches.Should().Be(1 + SnsCertificateCache.MaxFetchesInFlight, "the message beyond the bound fetched nothing");
        App.LogsWithId(1759).Should().Contain(r => r.Message.Contains("were already running", StringComparison.Ordinal));
    }

    private Dictionary<string, string?> Flood(int i) => Signer.Sign(
        SnsSigner.Notification(SesFixtures.IdentityComplaint),
        certUrl: string.Create(CultureInfo.InvariantCulture, $"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-flood{i}.pem"));
}
