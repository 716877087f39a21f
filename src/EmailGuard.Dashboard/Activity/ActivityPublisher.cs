using Microsoft.Extensions.Hosting;

namespace EmailGuard.Dashboard;

/// <summary>Publishes this instance's activity every <see cref="ActivityExchange.PublishInterval"/>, in the background.</summary>
internal sealed class ActivityPublisher(ActivityExchange exchange, TimeProvider timeProvider) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using PeriodicTimer timer = new(ActivityExchange.PublishInterval, timeProvider);
        do
        {
            await exchange.TryPublishAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
