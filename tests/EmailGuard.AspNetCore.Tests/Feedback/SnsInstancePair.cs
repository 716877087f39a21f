using System.Globalization;
using EmailGuard.AspNetCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// Two instances of an app with the SES webhook on, sharing what <c>services</c> registers (a key-value store): the
/// first verifies messages, the fresh one has verified nothing. Both serve the signer's certificate at
/// <see cref="SnsSigner.DefaultCertUrl"/>.
/// </summary>
internal sealed class SnsInstancePair : IAsyncDisposable
{
    private SnsInstancePair(SnsSigner signer, WebhookTestApp first, WebhookTestApp fresh)
    {
        Signer = signer;
        First = first;
        Fresh = fresh;
    }

    public SnsSigner Signer { get; }

    public WebhookTestApp First { get; }

    public WebhookTestApp Fresh { get; }

    public static async Task<SnsInstancePair> StartAsync(Action<IServiceCollection> services)
    {
        Dictionary<string, string?> configuration = new()
        {
            ["EmailGuard:Webhooks:Ses:Enabled"] = "true",
            ["EmailGuard:Webhooks:Ses:TopicArns:0"] = WebhookTestApp.TopicArn,
        };
        SnsSigner signer = new(TestApp.Start);
        WebhookTestApp first = await WebhookTestApp.StartAsync(configuration, services: services);
        WebhookTestApp fresh = await WebhookTestApp.StartAsync(configuration, services: services);
        first.Sns.Certificates[SnsSigner.DefaultCertUrl] = signer.Pem;
        fresh.Sns.Certificates[SnsSigner.DefaultCertUrl] = signer.Pem;
        return new SnsInstancePair(signer, first, fresh);
    }

    /// <summary>Posts <paramref name="message"/> signed with the signer's key, naming <paramref name="certUrl"/>, stamped <paramref name="timestamp"/> when given.</summary>
    public Task<HttpResponseMessage> PostAsync(WebhookTestApp app, Dictionary<string, string?> message, string certUrl = SnsSigner.DefaultCertUrl, DateTimeOffset? timestamp = null)
    {
        if (timestamp is { } at)
        {
            message["Timestamp"] = at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }

        return app.PostAsync("ses", SnsSigner.Body(Signer.Sign(message, certUrl: certUrl)));
    }

    /// <summary>Holds every fetch slot of <paramref name="app"/> with messages naming fresh certificate URLs that hang, until its <c>Sns.Hold</c> is set.</summary>
    public async Task<List<Task<HttpResponseMessage>>> HoldFetchSlotsAsync(WebhookTestApp app)
    {
        app.Sns.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        List<Task<HttpResponseMessage>> held = [];
        for (int i = 0; i < SnsCertificateCache.MaxFetchesInFlight; i++)
        {
            held.Add(PostAsync(app, SnsSigner.Notification(SesFixtures.IdentityComplaint), string.Create(CultureInfo.InvariantCulture, $"https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-flood{i}.pem")));
            (await app.Sns.HeldFetches.WaitAsync(TimeSpan.FromSeconds(30))).Should().BeTrue("the flood's fetch must arrive");
        }

        return held;
    }

    public async ValueTask DisposeAsync()
    {
        await First.DisposeAsync();
        await Fresh.DisposeAsync();
        Signer.Dispose();
    }
}
