using Microsoft.Extensions.Hosting;

namespace EmailGuard.AspNetCore;

/// <summary>
/// A check of how the app was put together that runs once the app has started, not when this service starts: a
/// <c>Startup</c> class builds its pipeline and maps its endpoints while the server starts, after the hosted services
/// registered before it, so only then is there everything to look at.
/// </summary>
/// <param name="lifetime">The app's lifetime, whose start runs <see cref="Check"/>.</param>
internal abstract class StartedCheck(IHostApplicationLifetime lifetime) : IHostedService
{
    private CancellationTokenRegistration _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = lifetime.ApplicationStarted.Register(Check);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Looks at the started app, and logs what is missing.</summary>
    protected abstract void Check();
}
