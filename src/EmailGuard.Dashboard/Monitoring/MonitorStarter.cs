using Microsoft.Extensions.Hosting;

namespace EmailGuard.Dashboard;

/// <summary>Creates the monitor when the host starts, so that it hears the store from the first call on.</summary>
internal sealed class MonitorStarter(EmailGuardMonitor monitor) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        GC.KeepAlive(monitor);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
