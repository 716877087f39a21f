using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Chains the monitor after whatever callbacks the app set on <see cref="SendGuardOptions.Events"/>, so that the
/// dashboard and the alerts never replace the app's own. The app's callback runs first; the monitor runs even when
/// it throws.
/// </summary>
internal sealed class HookSendGuardEvents(EmailGuardMonitor monitor) : IPostConfigureOptions<SendGuardOptions>
{
    public void PostConfigure(string? name, SendGuardOptions options)
    {
        EmailGuardEvents events = options.Events;
        events.OnChecked = Chain(events.OnChecked, monitor.OnChecked);
        events.OnLimitExceeded = Chain(events.OnLimitExceeded, monitor.OnLimitExceeded);
        events.OnNearLimit = Chain(events.OnNearLimit, monitor.OnNearLimit);
        events.OnUserFlagged = Chain(events.OnUserFlagged, monitor.OnFlagged);
        events.OnTenantFlagged = Chain(events.OnTenantFlagged, monitor.OnFlagged);
        events.OnTenantSuspended = Chain(events.OnTenantSuspended, monitor.OnFlagged);
    }

    private static Action<T> Chain<T>(Action<T>? first, Action<T> second)
        => first is null
            ? second
            : value =>
            {
                try
                {
                    first(value);
                }
                finally
                {
                    second(value);
                }
            };
}
