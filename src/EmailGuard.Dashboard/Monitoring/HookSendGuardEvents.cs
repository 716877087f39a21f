using Microsoft.Extensions.Options;

namespace EmailGuard.Dashboard;

/// <summary>
/// Chains the monitor to whatever callbacks the app set on <see cref="SendGuardOptions.Events"/>, so that the
/// dashboard and the alerts never replace the app's own. The app's callback runs first, and the monitor runs even when
/// it throws; except for checks and refunds, which the monitor records first, at the moment the guard raises them: an
/// app whose <see cref="EmailGuardEvents.OnChecked"/> awaits something let a refund of the check reach the record before
/// the check did, so the refund took nothing off and the check was counted in full later. It also tells the monitor how the guard groups client addresses and folds alias domains, so the
/// dashboard's client networks and recipient domains are the guard's partitions.
/// </summary>
/// <param name="monitorOf">
/// The monitor, resolved when the options are built rather than when this hook is: <c>ValidateOnStart</c> builds the
/// options machinery of every validated type, hooks included, before it validates any, and the monitor's alerts and store
/// read their own options, so a bad alert or store setting thrown from here stopped the report of every other section.
/// Null when such a setting is invalid: its own validation fails the start, and the options are not hooked meanwhile.
/// </param>
internal sealed class HookSendGuardEvents(Func<EmailGuardMonitor?> monitorOf) : IPostConfigureOptions<SendGuardOptions>
{
    public void PostConfigure(string? name, SendGuardOptions options)
    {
        if (monitorOf() is not { } monitor)
        {
            return;
        }

        monitor.Activity.GroupClientsBy(options.IPv4PrefixLength, options.IPv6PrefixLength);
        monitor.Activity.FoldDomainsAs(options.AddressNormalization);
        EmailGuardEvents events = options.Events;
        events.OnChecked = Before(events.OnChecked, a => monitor.OnChecked(a));
        events.OnRefunded = Before(events.OnRefunded, a => monitor.OnRefunded(a));
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

    /// <summary>
    /// <paramref name="first"/> at once, then the app's callback, which runs even when <paramref name="first"/> throws.
    /// The guard raises a check's event before it returns the decision a refund needs, so what runs first sees every
    /// check before its refund, however long the app's callbacks take.
    /// </summary>
    internal static Func<T, ValueTask> Before<T>(Func<T, ValueTask>? then, Action<T> first)
        => then is null
            ? Chain(null, first)
            : async value =>
            {
                try
                {
                    first(value);
                }
                finally
                {
                    await then(value).ConfigureAwait(false);
                }
            };
}
