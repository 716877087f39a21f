using Microsoft.Extensions.DependencyInjection;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The cross-layer penalty: feedback the core records (a hard bounce or a complaint) on mail that a request to an
/// endpoint policy caused counts against that request's client network at that policy, when the policy has a bounce
/// ban. Any instance that records the feedback counts it; every instance enforces the ban through the store.
/// </summary>
internal sealed class EndpointFeedbackBans(IServiceProvider services) : IEmailFeedbackObserver
{
    private EndpointGuardStateProvider? _state;
    private EndpointDefense? _defense;

    public ValueTask OnRecordedAsync(EmailFeedbackArguments arguments, CancellationToken cancellationToken)
    {
        EmailFeedbackEvent feedback = arguments.Event;
        // Mail the provider never sent (the address was on its suppression list) is no bounce the client caused.
        bool counts = !feedback.SuppressedByProvider
            && (feedback.Kind == EmailFeedbackKind.Complained || (feedback.Kind == EmailFeedbackKind.Bounced && feedback.BounceType == EmailBounceType.Permanent));
        if (!counts || arguments.Attribution is not { EndpointPolicy: { } policy, ClientNetwork: { } network })
        {
            return ValueTask.CompletedTask;
        }

        // Resolved on first use: the endpoint rules are compiled (and validated) when the app starts, not when feedback is wired.
        EndpointGuardState state = (_state ??= services.GetRequiredService<EndpointGuardStateProvider>()).Current;
        if (!state.Defenses.TryGetValue(policy, out PolicyDefense? defense) || defense.BounceBan is null)
        {
            return ValueTask.CompletedTask;
        }

        _defense ??= services.GetRequiredService<EndpointDefense>();
        return _defense.OnBounceAsync(state, defense, network, cancellationToken);
    }
}
