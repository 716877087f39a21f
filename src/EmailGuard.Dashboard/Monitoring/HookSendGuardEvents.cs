using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Chains the monitor after whatever callbacks the app set on <see cref="SendGuardOptions.Events"/>, so that the
/// dashboard and the alerts never replace the app's own. The app's callback runs first; the monitor runs even when
/// it throws. It also tells the monitor how the guard groups client addresses, so the dashboard's client networks are
/// the guard's partitions.
/// </summary>
internal sealed class HookSendGuardEvents(EmailGuardMonitor monitor) : IPostConfigureOptions<SendGuardOptions>
{
    public void PostConfigure(string? name, SendGuardOptions options)
    {
        monitor.Activity.GroupClientsBy(options.IPv4PrefixLength, options.IPv6PrefixLength);
        EmailGuardEvents events = options.Events;
        events.OnChecked = Chain(events.OnChecked, a => monitor.OnChecked(a));
        events.OnRefunded = Chain(events.OnRefunded, a => monitor.OnRefunded(a));
        events.OnLimitExceeded = Chain(events.OnLimitExceeded, a => monitor.OnLimitExceeded(a));
        events.OnNearLimit = Chain(events.OnNearLimit, a => monitor.OnNearLimit(a));
        events.OnUserFlagged = Chain(events.OnUserFlagged, a => monitor.OnFlagged(a.Flag, a.Replaced));
        events.OnTenantFlagged = Chain(events.OnTenantFlagged, a => monitor.OnFlagged(a.Flag, a.Replaced));
        events.OnTenantSuspended = Chain(events.OnTenantSuspended, a => monitor.OnFlagged(a.Flag, a.Replaced));
    }

    internal static Func<T, ValueTask> Chain<T>(Func<T, ValueTask>? first, Action<T> second)
        => first is null
            ? value =>
            {
                second(value);
                return ValueTask.CompletedTask;
            }
    : async value =>
    {
        try
        {
            await first(value).ConfigureAwait(false);
        }
        finally
        {
            second(value);
        }
    };
}
