namespace EmailGuard.AspNetCore;

/// <summary>What <see cref="EmailGuardEndpointOptions.OnBanStarted"/> is told when a client network is banned from a policy.</summary>
public sealed class EmailGuardBanStartedArguments
{
    internal EmailGuardBanStartedArguments(
        string policyName, string clientNetwork, TimeSpan duration, int repeat, DateTimeOffset startedAt, EmailGuardBanReason reason = EmailGuardBanReason.Denials)
    {
        Reason = reason;
        PolicyName = policyName;
        ClientNetwork = clientNetwork;
        Duration = duration;
        Repeat = repeat;
        StartedAt = startedAt;
    }

    /// <summary>Gets the policy the client is banned from.</summary>
    public string PolicyName { get; }

    /// <summary>Gets the client network as the policy counts it, e.g. <c>203.0.113.7</c> or <c>2001:db8:1:2::/64</c>.</summary>
    public string ClientNetwork { get; }

    /// <summary>Gets how long the ban lasts.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Gets which ban of the client this is within the repeat memory, from 1.</summary>
    public int Repeat { get; }

    /// <summary>Gets why the network was banned: denials (the escalating ban), requests (Allow2Ban) or bounces.</summary>
    public EmailGuardBanReason Reason { get; }

    /// <summary>Gets when the ban started.</summary>
    public DateTimeOffset StartedAt { get; }
}
