using System.Net;
using System.Security.Cryptography;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// An SNS notification signed longer ago than <see cref="SesWebhookOptions.MaxMessageAge"/> is refused as stale, as
/// Mailgun and SendGrid refuse old signatures; it used to be accepted whatever its signed <c>Timestamp</c> (found by a
/// hostile review). Deduplication by event id lasts
/// <see cref="EmailFeedbackOptions.DeduplicationWindow"/> (3 days), so a captured SES bounce or complaint (from a log,
/// a proxy, a support ticket) replayed after it is recorded again: the recipient is suppressed again after an operator
/// lifted it, and the party it names is charged a bounce or complaint again, toward its ratio breaker.
/// </summary>
public sealed class HostileSesReplayTests : IAsyncLifetime
{
    private readonly SnsSigner _signer = new(TestApp.Start);
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _app = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())));
        _app.Sns.Certificates[SnsSigner.DefaultCertUrl] = _signer.Pem;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _signer.Dispose();
    }

    [Fact]
    public async Task Notification_SignedLongerAgoThanTheDeduplicationWindow_IsRefusedAsStale()
    {
        // Signed at TestApp.Start (2026-03-02T00:00:00Z), replayed once the deduplication of its event id has lapsed.
        Dictionary<string, string?> captured = _signer.Sign(SnsSigner.Notification(SesFixtures.IdentityComplaint));
        _app.Time.Advance(new EmailFeedbackOptions().DeduplicationWindow + TimeSpan.FromHours(1));

        HttpResponseMessage response = await _app.PostAsync("ses", SnsSigner.Body(captured));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, "a notification signed days ago is a replay, as it is for Mailgun and SendGrid");
        _app.Feedback.Calls.Should().BeEmpty();
    }
}
