using EmailGuard.AspNetCore;
using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore.Tests.Feedback;

/// <summary>
/// The SNS certificate warm-up is a hosted service in every app that maps the feedback webhooks: whatever order the host
/// stops and disposes it in, its shutdown must not throw (a CI run of the sample's browser tests failed in a test host's
/// disposal: the host stopped the service after its provider had disposed it).
/// </summary>
public sealed class SnsCertificateWarmUpTests
{
    [Fact]
    public async Task StoppedAfterItsProviderDisposedIt_StopsQuietly_AsOftenAsItIsStopped()
    {
        // Arrange
        await using ServiceProvider provider = Services();
        SnsCertificateWarmUp warmUp = ActivatorUtilities.CreateInstance<SnsCertificateWarmUp>(provider);
        await warmUp.StartAsync(CancellationToken.None);

        // Act: the provider disposes the service, then the host stops it, twice.
        warmUp.Dispose();
        Func<Task> stop = () => warmUp.StopAsync(CancellationToken.None);

        // Assert
        await stop.Should().NotThrowAsync();
        await stop.Should().NotThrowAsync();
    }

    [Fact]
    public async Task StoppedThenDisposed_AsAHostDoes_StopsAndDisposesQuietly_AsOftenAsItIsDisposed()
    {
        await using ServiceProvider provider = Services();
        SnsCertificateWarmUp warmUp = ActivatorUtilities.CreateInstance<SnsCertificateWarmUp>(provider);
        await warmUp.StartAsync(CancellationToken.None);

        await warmUp.StopAsync(CancellationToken.None);
        Action dispose = warmUp.Dispose;
        dispose.Should().NotThrow();
        dispose.Should().NotThrow();
    }

    private static ServiceProvider Services()
    {
        ServiceCollection services = new();
        services.AddLogging();
        services.AddEmailGuard().AddFeedbackWebhooks(o =>
        {
            o.Mailgun.Enabled = true;
            o.Mailgun.SigningKey = WebhookTestApp.MailgunKey;
        });
        return services.BuildServiceProvider();
    }
}
