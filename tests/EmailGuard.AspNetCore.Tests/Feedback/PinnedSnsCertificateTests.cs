using System.Diagnostics;
using System.Globalization;
using System.Net;
using EmailGuard.AspNetCore;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// A fresh instance (just deployed, scaled out, restarted) has verified no message yet, so every certificate URL was held
/// to the bound of <see cref="SnsCertificateCache.MaxFetchesInFlight"/> fetches: anyone who knows the topic (it is not
/// secret) could hold the slots with messages naming fresh URLs that hang, and the genuine message, whose certificate
/// the instance had not fetched yet, was answered 503 at every SNS retry until SNS dropped it (h131's brief, left open
/// by an earlier hostile pass). The operator can now pin the certificates they expect.
/// </summary>
public sealed class PinnedSnsCertificateTests : IDisposable
{
    private const string OtherCertUrl = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1111111111111111111111.pem";

    private readonly SnsSigner _signer = new(TestApp.Start);

    [Fact]
    public async Task FreshInstance_PinnedCertificate_IsFetchedAtStartup_AndAFloodHoldingTheFetchSlotsTurnsNoGenuineMessageAway()
    {
        // Arrange: the pinned certificate is fetched in the background as the app starts.
        var sns = new FakeSnsHost();
        sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
        await using WebhookTestApp app = await StartAsync(sns);
        await Until(() => sns.CertificateFetches == 1);

        // Act: a flood holds every fetch slot, and the first genuine message arrives.
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(app);
        HttpResponseMessage genuine = await PostAsync(app, _signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));
        app.Sns.Hold!.SetResult();
        await Task.WhenAll(held);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "the pinned certificate was in hand before any message came");
        sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1);
        app.LogsWithId(3050).Should().BeEmpty();
    }

    [Fact]
    public async Task PinnedCertificateNotFetchedAtStartup_IsLoggedOnce_AndFetchedPastTheBoundTheFloodFills()
    {
        // Arrange: SNS does not serve the certificate while the app starts (404): the start goes on, and says so once.
        var sns = new FakeSnsHost();
        await using WebhookTestApp app = await StartAsync(sns);
        await Until(() => app.LogsWithId(3050).Count > 0);
        sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
        app.Time.Advance(TimeSpan.FromMinutes(2));

        // Act: a flood holds every fetch slot, and the first genuine message arrives.
        List<Task<HttpResponseMessage>> held = await HoldFetchSlotsAsync(app);
        HttpResponseMessage genuine = await PostAsync(app, _signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));
        app.Sns.Hold!.SetResult();
        HttpResponseMessage[] flood = await Task.WhenAll(held);

        // Assert
        genuine.StatusCode.Should().Be(HttpStatusCode.OK, "a pinned certificate is fetched past the bound, as one that verified a message is");
        flood.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable));
        app.LogsWithId(3050).Should().ContainSingle().Which.Message.Should().Contain(SnsSigner.DefaultCertUrl).And.Contain("answered 404");
        sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(2);
    }

    [Fact]
    public async Task PinnedCertificate_IsNeverEvicted_AndAnotherCertificateStillVerifies()
    {
        // Arrange: room for one certificate. SNS rotated, or a second region publishes: its certificate is not pinned.
        var sns = new FakeSnsHost();
        sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
        using var rotated = new SnsSigner(TestApp.Start);
        sns.Certificates[OtherCertUrl] = rotated.Pem;
        await using WebhookTestApp app = await StartAsync(sns, ("EmailGuard:Webhooks:Ses:CertificateCacheSize", "1"));
        await Until(() => sns.CertificateFetches == 1);

        // Act
        HttpResponseMessage other = await PostAsync(app, rotated.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint), certUrl: OtherCertUrl));
        HttpResponseMessage genuine = await PostAsync(app, _signer.Sign(SnsSigner.Notification(SesFixtures.EventDelivery)));

        // Assert: pinning refuses no other certificate (SNS rotates them), and the other one takes no pinned one's place.
        other.StatusCode.Should().Be(HttpStatusCode.OK, "pinning privileges certificates, it refuses none");
        genuine.StatusCode.Should().Be(HttpStatusCode.OK);
        sns.Requests.Count(u => u.AbsoluteUri == SnsSigner.DefaultCertUrl).Should().Be(1, "the pinned certificate is held apart from the cache's bound");
    }

    public void Dispose() => _signer.Dispose();

    private static Task<WebhookTestApp> StartAsync(FakeSnsHost sns, params (string Key, string Value)[] settings)
    {
        Dictionary<string, string?> configuration = new()
        {
            ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
            ["EmailGuard:Webhooks:Ses:TopicArns:0"] = WebhookTestApp.TopicArn,
            ["EmailGuard:Webhooks:Ses:SigningCertificateUrls:0"] = SnsSigner.DefaultCertUrl,
        };
        foreach ((string key, string value) in settings)
        {
            configuration[key] = value;
        }

        return WebhookTestApp.StartAsync(configuration, sns: sns);
    }

    private static Task<HttpResponseMessage> PostAsync(WebhookTestApp app, Dictionary<string, string?> message) => app.PostAsync("ses", SnsSigner.Body(message));

    /// <summary>Holds every fetch slot with messages naming fresh certificate URLs that hang.</summary>
    private async Task<List<Task<HttpResponseMessage>>> HoldFetchSlotsAsync(WebhookTestApp app)
    {
        app.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(app, _signer.Sign(
                SnsSigner.Notification(SesFixtures.IdentityComplaint),
                certUrl: string.Create(CultureInfo.InvariantCulture, $"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-flood{i}.pem"))));
            (await app.Sns.HeldFetches.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue("the flood's fetch must arrive");
        }

        return held;
    }

    /// <summary>Waits for the background warm-up, bounded generously: it runs on the app's start, off the test's path.</summary>
    private static async Task Until(Func<bool> condition)
    {
        for (long started = Stopwatch.GetTimestamp(); !condition(); await Task.Delay(10))
        {
            Stopwatch.GetElapsedTime(started).Should().BeLessThan(TimeSpan.FromSeconds(30), "the warm-up must have run by then");
        }
    }
}
