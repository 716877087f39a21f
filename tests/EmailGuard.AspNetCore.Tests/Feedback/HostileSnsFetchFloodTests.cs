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

        // Act: one more fresh URL, and a genuine message, while the others hang. The bound is on fetches running at once,
        // so the hang ends only once the message beyond it was answered, or its fetch reached the host (the bound broken).
        // Ended any earlier, a loaded machine could bring that message to the cache after a held fetch finished, and the
        // fetch it then started was within the bound (seen in CI under parallel load: 6 fetches, the sixth flood4's).
        Task<HttpResponseMessage> extra = PostAsync(Flood(SnsCertificateCache.MaxFetchesInFlight));
        using var noFetchBeyond = new CancellationTokenSource();
        await Task.WhenAny(extra, App.Sns.HeldFetches.WaitAsync(noFetchBeyond.Token));
        await noFetchBeyond.CancelAsync();
        HttpResponseMessage genuine = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));
        App.Sns.Hold.SetResult();
        HttpResponseMessage[] flood = await Task.WhenAll([.. held, extra]);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "the cached certificate needs no fetch");
        flood.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable), "SNS retries a 503");
        App.Sns.CertificateFetches.Should().Be(1 + SnsCertificateCache.MaxFetchesInFlight, "the message beyond the bound fetched nothing; fetched: {0}",
            string.Join(", ", App.Sns.Requests.Select(u => u.AbsolutePath)));
        App.LogsWithId(1759).Should().Contain(r => r.Message.Contains("were already running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RealCertificatesOfOtherRegions_DoNotEvictTheOneThatVerifies()
    {
        // Arrange: the genuine certificate is cached by a genuine message. Every SNS region serves a real certificate at a
        // public URL, so a message naming one costs the attacker nothing, and its fetch succeeds.
        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        using var otherRegions = new SnsSigner(TestApp.Start);
        for (int i = 0; i < 16; i++)
        {
            string url = RegionCertificate(i);
            App.Sns.Certificates[url] = otherRegions.Pem;
            (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: url))).StatusCode
                .Should().Be(HttpStatusCode.Unauthorized, "the certificate was fetched, and the signature is not its key's");
        }

        // Act: the fetch slots are held by messages naming certificates that hang, and a genuine message arrives.
        App.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(Flood(i)));
            await App.Sns.HeldFetches.WaitAsync();
        }

        HttpResponseMessage genuine = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));
        App.Sns.Hold.SetResult();
        await Task.WhenAll(held);

        // Assert: SNS gives up on a message after a few retries, so a genuine message refused while an attacker keeps the
        // cache churning and the fetch slots busy is feedback lost.
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "the certificate that verified genuine messages is kept over ones that never verified any");
        App.Sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1);
    }

    [Fact]
    public async Task CertificateThatVerifiedBefore_IsFetchedAgainWhileAFloodHoldsTheFetchSlots()
    {
        // Arrange: the genuine certificate verified a message, and its cache entry has since expired.
        (await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint)))).StatusCode.Should().Be(HttpStatusCode.OK);
        App.Time.Advance(TimeSpan.FromHours(25));
        App.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(Flood(i)));
            await App.Sns.HeldFetches.WaitAsync();
        }

        // Act
        Dictionary<string, string?> message = SnsSigner.Notification(SesFixtures.EventDelivery);
        message["Timestamp"] = App.Time.GetUtcNow().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        HttpResponseMessage genuine = await PostAsync(Signer.Sign(message));
        App.Sns.Hold.SetResult();
        await Task.WhenAll(held);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "a certificate only SNS could have made verify is not held to the bound the flood fills");
        App.Sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(2);
    }

    [Theory]
    [InlineData("?region=1")]
    [InlineData("#1")]
    public async Task CertificateUrlWithAQueryOrFragment_IsRefusedWithoutAFetch(string suffix)
    {
        // SNS names its certificates by a plain path; a query or fragment is another cache entry for the same certificate.
        HttpResponseMessage response = await PostAsync(Signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: SnsSigner.DefaultCertUrl + suffix));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        App.Sns.CertificateFetches.Should().Be(0);
    }

    private static readonly string[] s_otherRegions =
    [
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
        "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1", "me-south-1",
    ];

    private static string RegionCertificate(int i) =>
        string.Create(CultureInfo.InvariantCulture, $"https://sns.{s_otherRegions[i]}.amazonaws.com/SimpleNotificationService-{i:D22}.pem");

    private Dictionary<string, string?> Flood(int i) => Signer.Sign(
        SnsSigner.Notification(SesFixtures.IdentityComplaint),
        certUrl: string.Create(CultureInfo.InvariantCulture, $"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-flood{i}.pem"));
}
