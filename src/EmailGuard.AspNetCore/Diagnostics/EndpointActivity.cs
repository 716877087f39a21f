using System.Diagnostics;

namespace EmailGuard.AspNetCore;

/// <summary>
/// The activity of one endpoint decision, on the <c>EmailGuard</c> source next to the store's
/// <c>emailguard.store.*</c> activities, which it parents. Tags carry the policy, the outcome (the values of the
/// <c>emailguard.endpoint.decisions</c> metric) and the kind of partition that rejected, never a partition's value: client
/// IPs, addresses, user and tenant ids stay out of traces.
/// </summary>
internal static class EndpointActivity
{
    public const string Name = "emailguard.endpoint.decide";

    // The core's source is internal to it; a second ActivitySource of the same public name reaches the same listeners.
    private static readonly ActivitySource s_source = new(EmailGuardDiagnostics.ActivitySourceName);

    public const string PolicyTag = "emailguard.policy";

    public const string OutcomeTag = "emailguard.outcome";

    public const string PartitionKindTag = "emailguard.partition.kind";

    /// <summary>Starts the activity only when a listener samples it; otherwise returns null without allocating.</summary>
    public static Activity? Start(string policy)
    {
        Activity? activity = s_source.StartActivity(Name, ActivityKind.Internal);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(PolicyTag, policy);
        }

        return activity;
    }

    public static void SetOutcome(Activity? activity, string policy, string outcome, string? partitionKind)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        // The policy that rejected can be the path rule acquired together with the endpoint's policy.
        activity.SetTag(PolicyTag, policy);
        activity.SetTag(OutcomeTag, outcome);
        if (partitionKind is not null)
        {
            activity.SetTag(PartitionKindTag, partitionKind);
        }
    }
}
