namespace EmailGuard.AspNetCore;

/// <summary>What the surge breaker events of <see cref="EmailGuardEndpointOptions"/> are told.</summary>
public sealed class EmailGuardSurgeBreakerArguments
{
    internal EmailGuardSurgeBreakerArguments(string policyName, long requestsThisMinute, long threshold, DateTimeOffset timestamp)
    {
        PolicyName = policyName;
        RequestsThisMinute = requestsThisMinute;
        Threshold = threshold;
        Timestamp = timestamp;
    }

    /// <summary>Gets the policy whose breaker changed state.</summary>
    public string PolicyName { get; }

    /// <summary>Gets the policy's total this minute, over all clients, when the state changed.</summary>
    public long RequestsThisMinute { get; }

    /// <summary>Gets the per-minute threshold in force when the state changed.</summary>
    public long Threshold { get; }

    /// <summary>Gets when the state changed.</summary>
    public DateTimeOffset Timestamp { get; }
}
