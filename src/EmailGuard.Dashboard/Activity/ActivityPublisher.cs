using Microsoft.Extensions.Hosting;

namespace EmailGuard.Dashboard;

/// <summary>
/// Publishes this instance's activity every <see cref="ActivityExchange.PublishInterval"/>, in the background, and gives
/// up its slot when the app stops (<see cref="ActivityExchange.LeaveAsync"/>).
/// </summary>
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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The loop ends first (a publish in flight is cancelled), so no tick claims the slot again after it is given up.
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await exchange.LeaveAsync(cancellationToken).ConfigureAwait(false);
    }
}
