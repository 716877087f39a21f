using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EmailGuard;

/// <summary>
/// When the host starts, begins loading the send guard's lists and flags and checking the store's configuration, so
/// that the first check finds a snapshot and a misconfigured store is reported at startup. Nothing here waits on the
/// store: a dead store delays neither the host's start nor any request. While the host runs, it also refreshes the
/// lists and flags every <see cref="SendGuardOptions.StateRefreshInterval"/>, so that an instance that had no check for
/// a while applies what other instances changed within the interval, not only at the check after it. It also loads the
/// Public Suffix List in the background.
/// </summary>
internal sealed class EmailGuardStartup(IServiceProvider services) : IHostedService, IDisposable
{
    private ITimer? _stateRefresh;

    public static void Register(IServiceCollection services)
        => services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, EmailGuardStartup>());

    public Task StartAsync(CancellationToken cancellationToken)
    {
        GuardStateCache? state = services.GetService<GuardStateCache>();
        _ = state?.StartRefresh();
        _stateRefresh ??= state?.StartPeriodicRefresh();
        foreach (IStoreConfigurationCheck check in services.GetServices<IStoreConfigurationCheck>())
        {
            check.Refresh();
        }

        // Every address the guard reads takes its registrable domain from the Public Suffix List, loaded once (about
        // 100 ms of parsing and IDNA conversion): loaded here, off the start, so the first check does not pay for it.
        _ = Task.Run(static () => PublicSuffixList.Icann.RuleCount, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stateRefresh?.Dispose();
        _stateRefresh = null;
    }
}
