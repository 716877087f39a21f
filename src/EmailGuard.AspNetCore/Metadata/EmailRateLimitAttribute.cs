namespace EmailGuard.AspNetCore;

/// <summary>
/// Limits an MVC controller or action with a named EmailGuard endpoint policy. An attribute on an action overrides
/// one on its controller.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class EmailRateLimitAttribute : Attribute, IEmailRateLimitMetadata
{
    /// <summary>Initializes the attribute.</summary>
    /// <param name="policyName">The name of a policy added with <c>AddEndpointPolicies</c>.</param>
    public EmailRateLimitAttribute(string policyName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(policyName);
        PolicyName = policyName;
    }

    /// <summary>Gets the policy name.</summary>
    public string PolicyName { get; }
}
