using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EmailGuard;

/// <summary>
/// When the host starts, begins loading the send guard's lists and flags and checking the store's configuration, so
/// that the first check finds a snapshot and a misconfigured store is reported at startup. Nothing here waits on the
/// store: a dead store delays neither the host's start nor any request.
/// </summary>
internal sealed class EmailGuardStartup(IServiceProvider services) : IHostedService
{
    public static void Register(IServiceCollection services)
        => services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmailGuardStartup>());

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetService<GuardStateCache>()?.StartRefresh();
        foreach (IStoreConfigurationCheck check in services.GetServices<IStoreConfigurationCheck>())
        {
            check.Refresh();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
