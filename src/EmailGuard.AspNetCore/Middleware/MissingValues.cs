namespace EmailGuard.AspNetCore;

/// <summary>
/// What the policies of one request refuse it for, found while its keys are resolved: a missing body field
/// (<see cref="MissingFieldBehavior.Reject"/>) or a partition value it does not carry (<see cref="MissingValueBehavior.Reject"/>).
/// A shadow policy never refuses, so it sets neither.
/// </summary>
internal struct MissingValues
{
    /// <summary>A field partition found no value, and its policy rejects that.</summary>
    public bool Field;

    /// <summary>The first partition that found no value in a policy that rejects that.</summary>
    public EmailRateLimitPartition? Partition;

    /// <summary>The policy of <see cref="Partition"/>.</summary>
    public EmailRateLimitPolicy? Policy;

    /// <summary>Whether the request is refused for a missing field or value.</summary>
    public readonly bool Any => Field || Partition is not null;

    /// <summary>The problem-details text of a request refused for <see cref="Partition"/>'s value; it names no claim type or header, which the client need not know.</summary>
    public readonly string ValueProblem => Partition!.Kind switch
    {
        PartitionKind.User => "The request must come from a signed-in user.",
        PartitionKind.Tenant => "The request must name its tenant.",
        PartitionKind.RouteValue => $"The request must carry the route value '{Partition.Name}'.",
        _ => $"The request must carry a value for '{Partition.Name}'.",
    };
}
