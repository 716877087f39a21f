using EmailGuard.AspNetCore;
using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Chains the monitor after the app's own callbacks for what trips outside the send guard's events: the ratio breakers
/// (<see cref="EmailRatioBreakerOptions.OnTripped"/>: reduced limits, suspensions, client-network bans, and
/// <see cref="EmailRatioBreakerOptions.OnRecovered"/>), provider
/// feedback suppressions (<see cref="EmailFeedbackEvents.OnSuppressed"/>), and the endpoints' escalating bans and surge
/// breaker (<see cref="EmailGuardEndpointOptions"/>). Public callbacks only; the app's callback runs first.
/// </summary>
/// <param name="monitorOf">The monitor, or null when a setting it needs is invalid (see <see cref="HookSendGuardEvents"/>).</param>
internal sealed class HookBreakerEvents(Func<EmailGuardMonitor?> monitorOf)
    : IPostConfigureOptions<EmailRatioBreakerOptions>, IPostConfigureOptions<EmailFeedbackOptions>, IPostConfigureOptions<EmailGuardEndpointOptions>
{
    public void PostConfigure(string? name, EmailRatioBreakerOptions options)
    {
        if (monitorOf() is not { } monitor)
        {
            return;
        }

        options.OnTripped = HookSendGuardEvents.Chain(options.OnTripped, monitor.OnRatioBreakerTripped);
        options.OnRecovered = HookSendGuardEvents.Chain(options.OnRecovered, monitor.OnRatioBreakerRecovered);
    }

    public void PostConfigure(string? name, EmailFeedbackOptions options)
    {
        if (monitorOf() is { } monitor)
        {
            options.Events.OnSuppressed = HookSendGuardEvents.Chain(options.Events.OnSuppressed, monitor.OnSuppressed);
        }
    }

    public void PostConfigure(string? name, EmailGuardEndpointOptions options)
    {
        if (monitorOf() is not { } monitor)
        {
            return;
        }

        options.OnBanStarted = HookSendGuardEvents.Chain(options.OnBanStarted, monitor.OnBanStarted);
        options.OnSurgeBreakerTripped = HookSendGuardEvents.Chain(options.OnSurgeBreakerTripped, a => monitor.OnSurgeBreaker(a, tripped: true));
        options.OnSurgeBreakerRecovered = HookSendGuardEvents.Chain(options.OnSurgeBreakerRecovered, a => monitor.OnSurgeBreaker(a, tripped: false));
    }
}
