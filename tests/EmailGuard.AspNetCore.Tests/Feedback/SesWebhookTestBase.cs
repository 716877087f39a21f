using System.Security.Cryptography;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// An app with every webhook provider configured, whose fake SNS host serves the signer's certificate at
/// <see cref="SnsSigner.DefaultCertUrl"/>: what the SES webhook tests start from.
/// </summary>
public abstract class SesWebhookTestBase : IAsyncLifetime
{
    /// <summary>Gets the signer of the notifications, whose certificate the fake SNS host serves.</summary>
    private protected SnsSigner Signer { get; } = new(TestApp.Start);

    /// <summary>Gets the app under test, once started.</summary>
    private protected WebhookTestApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using ECDsa sendGrid = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        App = await WebhookTestApp.StartAsync(WebhookTestApp.AllProviders(Convert.ToBase64String(sendGrid.ExportSubjectPublicKeyInfo())));
        App.Sns.Certificates[SnsSigner.DefaultCertUrl] = Signer.Pem;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        Signer.Dispose();
    }

    /// <summary>Posts an SNS message to the SES webhook.</summary>
    private protected Task<HttpResponseMessage> PostAsync(Dictionary<string, string?> message) => App.PostAsync("ses", SnsSigner.Body(message));
}
