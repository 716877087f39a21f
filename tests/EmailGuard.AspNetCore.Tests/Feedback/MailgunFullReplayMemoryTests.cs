using System.Net;
using System.Security.Cryptography;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// On the in-memory key-value store, Mailgun's tokens have a pool of their own. Full of live tokens, it forgets none:
/// a forgotten token would let a forged body through under its captured signature. A new token is answered 503 instead,
/// which Mailgun retries.
/// </summary>
public sealed class MailgunFullReplayMemoryTests : IAsyncLifetime
{
    private WebhookTestApp _app = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Dictionary<string, string?> configuration = WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo()));
        configuration["EmailGuard:Feedback:MaxInMemoryMappings"] = "3";
        _app = await WebhookTestApp.StartAsync(configuration);
    }

    public Task DisposeAsync() => _app.DisposeAsync().AsTask();

    [Fact]
    public async Task ReplayPoolFullOfLiveTokens_NewTokenAnswers503_AndACapturedTokenStillRefusesAForgedBody()
    {
        string[] tokens = [new('a', 50), new('b', 50), new('c', 50)];
        foreach (string token in tokens)
        {
            (await PostAsync(MailgunSigner.EventData("delivered"), token)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        HttpResponseMessage fourth = await PostAsync(MailgunSigner.EventData("delivered"), new string('d', 50));
        HttpResponseMessage forged = await PostAsync(MailgunSigner.EventData("complained", recipient: "victim@example.com"), tokens[0]);

        fourth.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, "Mailgun retries it once tokens expire");
        forged.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        _app.Feedback.Calls.Should().HaveCount(3).And.OnlyContain(c => c.Kind == EmailFeedbackKind.Delivered);
        _app.LogsWithId(2941).Should().ContainSingle();
    }

    private Task<HttpResponseMessage> PostAsync(System.Text.Json.Nodes.JsonObject eventData, string token)
        => _app.PostAsync("mailgun", MailgunSigner.Json(MailgunSigner.Sign(eventData, _app.Time.GetUtcNow(), token: token)));
}
